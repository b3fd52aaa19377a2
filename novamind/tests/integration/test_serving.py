"""`make serve`'s way: with DEBUG off, gunicorn and whitenoise serve the admin's styles, hashed and cached.

A real gunicorn in a child process, configured as `make serve` configures it (novamind.gunicorn_conf,
DEBUG off, after a collectstatic), on a free loopback port. Its database is a new SQLite file
nobody migrated: the login page needs none, and /readyz must say so.
"""

import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from novamind.tests.children import BASE_DIR, child_environment

ONE_YEAR = 365 * 24 * 60 * 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, **headers) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


class Served:
    """The running server: its address, and its output once stopped."""

    def __init__(self, base: str, process: subprocess.Popen):
        self.base, self.process = base, process

    def stop(self) -> str:
        """Stop gunicorn as a service manager would (SIGTERM) and return what it wrote."""
        self.process.terminate()
        return self.process.communicate(timeout=30)[0]


@pytest.fixture
def served(tmp_path):
    """Return the base URL of gunicorn serving NovaMind with DEBUG off, after a collectstatic."""
    port = free_port()
    environment = child_environment(
        f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        DATABASE_POOL="false",
        DEBUG="off",
        ALLOWED_HOSTS="127.0.0.1",
        STATIC_ROOT=str(tmp_path / "static"),
        NOVAMIND_WEB_BIND=f"127.0.0.1:{port}",
        NOVAMIND_WEB_WORKERS="1",
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    command = [sys.executable, "-m", "gunicorn", "-c", "python:novamind.gunicorn_conf", "novamind.wsgi"]
    server = subprocess.Popen(
        command, cwd=BASE_DIR, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if get(base + "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz in 120 s"
            time.sleep(0.2)
        yield Served(base, server)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=30)


def test_gunicorn_serves_the_admin_styles_hashed_compressed_and_cached_for_a_year(served):
    # One server for every assertion: starting gunicorn is most of this test's time.
    base = served.base
    status, headers, page = get(base + "/admin/login/?next=/admin/patients/patient/%3Fq%3Dsecret-search")
    assert status == 200
    assert "style-src 'self'" in headers["content-security-policy"]
    (stylesheet,) = re.findall(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', page.decode())

    status, headers, body = get(base + stylesheet, **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    assert headers["content-encoding"] == "gzip"
    assert "immutable" in headers["cache-control"]
    assert int(re.search(r"max-age=(\d+)", headers["cache-control"]).group(1)) >= ONE_YEAR
    assert "access-control-allow-origin" not in headers  # same origin only

    # The name without its hash is no address to cache for long: a release would go unseen.
    status, headers, _ = get(base + "/static/admin/css/base.css")
    assert status == 200 and "immutable" not in headers["cache-control"]

    # Alive, but not ready: nobody migrated its database.
    assert get(base + "/healthz")[0] == 200
    status, headers, body = get(base + "/readyz")
    assert status == 503
    assert re.fullmatch(rb"not ready: \d+ migration\(s\) not applied\n", body)
    assert "set-cookie" not in headers

    # The access log names paths, never a query string (a search's is PHI).
    log = served.stop()
    assert "GET /admin/login/ HTTP/1.1" in log
    assert "secret-search" not in log
