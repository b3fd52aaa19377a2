"""gunicorn's settings for NovaMind: `gunicorn -c python:novamind.gunicorn_conf novamind.wsgi` (make serve).

Read from the environment and the project's `.env`, as the Django settings are. Each worker
imports novamind.wsgi, which runs the system checks first (a wrong key stops it), and opens its
own database pool: nothing is loaded in the master and shared across the fork.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Loopback by default: a reverse proxy on the same host terminates TLS (README, "Production serving").
bind = env.list("NOVAMIND_WEB_BIND", default=["127.0.0.1:8000"])
# Synchronous workers, one request each at a time: about one per core is what the CPU-bound admin
# (Fernet, templates) can use; the database pool of each (DATABASE_POOL_MAX_SIZE) must fit the server.
workers = env.int("NOVAMIND_WEB_WORKERS", default=2)
# A request still running after this long is killed and its worker replaced (a stuck query, a loop).
timeout = env.int("NOVAMIND_WEB_TIMEOUT", default=60)
graceful_timeout = 30

# The proxies whose X-Forwarded-Proto gunicorn believes: the very list Django believes their
# X-Forwarded-For from (novamind.access.client_address). Empty: none.
forwarded_allow_ips = ",".join(env.list("NOVAMIND_TRUSTED_PROXIES", default=[]))

# One line a request, to standard output: the peer, method, path WITHOUT the query string (a
# search's query string is PHI), status, bytes and milliseconds. No referrer (it holds the
# previous page's query string), no user, no cookies, no headers that could carry PHI.
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = env.str("LOG_LEVEL", default="INFO").lower()
proc_name = "novamind"
