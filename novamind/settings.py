"""NovaMind settings: everything that differs between machines comes from the environment.

Values are read with django-environ from the process environment and, when present, from a
`.env` file at the project root (never committed). `NOVAMIND_MODE` chooses between
`development` (the default: SQLite under var/, keys generated into .env on first run) and
`production` (keys must be provided; TLS to the database; system checks refuse to start
otherwise). Every variable is documented in README.md.
"""

import datetime as dt
from pathlib import Path

import environ
from csp import constants as csp_constants

from novamind import config

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = BASE_DIR / ".env"

env = environ.Env()
environ.Env.read_env(ENV_FILE, overwrite=False)

MODE = env.str("NOVAMIND_MODE", default="development").strip().lower()
if MODE not in ("development", "production"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"NOVAMIND_MODE must be 'development' or 'production', not {MODE!r}.")
PRODUCTION = MODE == "production"

if not PRODUCTION:
    # A fresh checkout must run `make demo` with nothing configured: generate development keys
    # into .env once, so data written today still decrypts tomorrow.
    config.ensure_development_keys(ENV_FILE, env)

# Production keeps DEBUG off whatever the environment says (a WSGI server runs no system
# checks), and the check novamind.E009 refuses to start when DEBUG=on was asked for.
NOVAMIND_DEBUG_REQUESTED = env.bool("DEBUG", default=not PRODUCTION)
DEBUG = NOVAMIND_DEBUG_REQUESTED and not PRODUCTION

# Missing keys in production are reported by novamind.checks (a system check error), so the
# process refuses to start with a clear message instead of an import-time traceback; the
# placeholders below only let Django load far enough to run those checks.
SECRET_KEY = env.str("SECRET_KEY", default="") or config.MISSING_PLACEHOLDER_SECRET
FIELD_ENCRYPTION_KEY = config.parse_key_list(env.str("FIELD_ENCRYPTION_KEY", default=""))
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="")
# Keys the HMAC chain of the access log; separate, so a leaked search key cannot forge the log.
AUDIT_LOG_KEY = env.str("AUDIT_LOG_KEY", default="")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "simple_history",
    # Login throttling and lockout; two-factor login (TOTP, recovery codes); the CSP header.
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "novamind.apps.NovamindConfig",
    "patients.apps.PatientsConfig",
    "diagnoses.apps.DiagnosesConfig",
    "appointments.apps.AppointmentsConfig",
    "clinical_notes.apps.ClinicalNotesConfig",
    "medications.apps.MedicationsConfig",
    "assessments.apps.AssessmentsConfig",
    # Above the clinical apps, below clinic: plans read diagnoses and notes.
    "treatment_plans.apps.TreatmentPlansConfig",
    # Above the entity apps: the features that read several of them (dashboard, export, retention, audit report).
    "clinic.apps.ClinicConfig",
    # FHIR R4 export and import: above clinic, whose record gathering the export reuses.
    "fhir.apps.FhirConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The admin's static files, from the site itself (same origin: the CSP stays 'self').
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # /healthz and /readyz answer here: no session, no cookie, no login, no database unless asked.
    "novamind.health.ProbeMiddleware",
    "csp.middleware.CSPMiddleware",
    # A request that has written reads nothing more from the read replica (novamind.db_router).
    "novamind.db_router.RequestScopeMiddleware",
    # Before the first middleware that reads the database (the session): an outage answers 503.
    "novamind.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages (the sign-out notice is a message), before anything that reads PHI.
    "novamind.middleware.SessionTimeoutMiddleware",
    "novamind.middleware.TwoFactorMiddleware",
    # After sign-in and two-factor: a stranger's garbage URL gets the login page, not a hint.
    "novamind.middleware.BadInputMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "novamind.middleware.DecryptionErrorMiddleware",
    # An AccessDenied no view caught answers the 403 page, not a 500.
    "novamind.middleware.AccessDeniedMiddleware",
    # django-axes turns a refused login into the lockout page; it must come last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "novamind.urls"
WSGI_APPLICATION = "novamind.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # clinic/templates is listed for its admin/index.html (the dashboard): an app directory after
        # django.contrib.admin's could not override the stock index.
        "DIRS": [BASE_DIR / "novamind" / "templates", BASE_DIR / "clinic" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "novamind.mfa.context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# With no DATABASE_URL the project runs on an embedded SQLite file, so `make demo` and
# `make test` need nothing installed. PostgreSQL is the production engine.
(BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'novamind.sqlite3'}")}
DATABASES["default"].update(config.database_options(env, DATABASES["default"], PRODUCTION))
# An optional streaming read replica: only the reads a call site marks as reporting go to it
# (novamind.db_router; README, "Scaling"). Same TLS and pool options as the primary.
REPLICA_DATABASE = config.replica_database(env, PRODUCTION)
if REPLICA_DATABASE:
    DATABASES["replica"] = REPLICA_DATABASE
DATABASE_ROUTERS = ["novamind.db_router.ReplicaRouter"]
# Whether reporting reads use the replica when one is configured (the tests turn it on where they mean it).
NOVAMIND_REPLICA_READS = True
# After the replica could not be reached, reporting reads stay on the primary this long before it is tried again.
NOVAMIND_REPLICA_RETRY_SECONDS = env.int("DATABASE_REPLICA_RETRY_SECONDS", default=30)
# The role the web process, cron and everyday commands connect as (PostgreSQL). When set, every
# `migrate` (run as the owner role) grants it least privilege: it may only SELECT and INSERT on
# the audit tables (novamind.dbroles; README, "Database roles").
NOVAMIND_DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="").strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` (make serve) writes here; whitenoise serves it when DEBUG is off.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# With DEBUG off, static files are served under content-hashed names (admin/css/base.1a2b3c.css),
# pre-compressed, with a one-year immutable Cache-Control (whitenoise): a new release changes the
# names, so no browser keeps a stale file. With DEBUG on (make demo) they are served as they are,
# from the apps, without collectstatic; the tests use the same plain storage (conftest.py).
# Same origin only: nothing else has any business loading the admin's files.
WHITENOISE_ALLOW_ALL_ORIGINS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# --- Sessions, lockout, two-factor login --------------------------------------------------
# Sessions hold the user id, the second factor's device id and two timestamps, never PHI. They
# end with the browser, after NOVAMIND_SESSION_IDLE_MINUTES without a request, and
# NOVAMIND_SESSION_ABSOLUTE_HOURS after sign-in whatever the activity
# (novamind.middleware.SessionTimeoutMiddleware).
NOVAMIND_SESSION_IDLE_MINUTES = env.int("NOVAMIND_SESSION_IDLE_MINUTES", default=15)
NOVAMIND_SESSION_ABSOLUTE_HOURS = env.int("NOVAMIND_SESSION_ABSOLUTE_HOURS", default=12)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# The stored session row outlives no session: the database drops it with the absolute limit.
SESSION_COOKIE_AGE = NOVAMIND_SESSION_ABSOLUTE_HOURS * 60 * 60
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Messages are rendered once and must not linger in the session table.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"

AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out username+address before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("NOVAMIND_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("NOVAMIND_LOCKOUT_MINUTES", default=15))
# Lock the pair: a storm from one address cannot lock a colleague out from another desk.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "novamind.lockout.lockout_response"
# The same address the access log records (novamind.access.client_address: REMOTE_ADDR, or the
# X-Forwarded-For the trusted proxy set).
AXES_CLIENT_IP_CALLABLE = "novamind.access.client_address"
# Addresses of the reverse proxies whose X-Forwarded-For is believed (its last entry, the address
# the proxy saw). Empty (the default): REMOTE_ADDR is the client, as when nothing is in front.
NOVAMIND_TRUSTED_PROXIES = config.trusted_proxies(env.list("NOVAMIND_TRUSTED_PROXIES", default=[]))
# No start-up banner on every manage.py command; attempts are still logged (username hidden).
AXES_VERBOSE = False

# Two-factor login is required in production and cannot be turned off there; in development it
# is off unless asked for, and every admin page says so.
NOVAMIND_REQUIRE_TWO_FACTOR = PRODUCTION or env.bool("NOVAMIND_REQUIRE_TWO_FACTOR", default=False)
OTP_TOTP_ISSUER = env.str("NOVAMIND_TOTP_ISSUER", default="NovaMind")
# The device admin never shows a TOTP secret or a recovery code once it is stored.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A load balancer or orchestrator probes the process directly, over plain HTTP: no redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Same-origin everything; no inline script at all. The few inline <style> blocks of the admin
# templates carry the per-request nonce (nonce="{{ request.csp_nonce }}"); a test keeps it so.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "img-src": [csp_constants.SELF],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.NONE],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}

# --- Audit trail ----------------------------------------------------------------------------
# The revert button stays: it is a normal, attributed, version-checked save.
SIMPLE_HISTORY_REVERT_DISABLED = False
SIMPLE_HISTORY_HISTORY_ID_USE_UUID = False
# verify_audit writes a signed checkpoint of every chain here after each intact run, and compares
# the database with all of them (novamind.checkpoints): outside the database, ideally write-once
# storage on another host. Required in production (novamind.E050); var/ in development. A
# relative path is taken from the project root, so cron (another working directory) finds the
# same checkpoints.
NOVAMIND_AUDIT_CHECKPOINT_DIR = env.str("NOVAMIND_AUDIT_CHECKPOINT_DIR", default="") or (
    None if PRODUCTION else "var/audit-checkpoints"
)
if NOVAMIND_AUDIT_CHECKPOINT_DIR:
    NOVAMIND_AUDIT_CHECKPOINT_DIR = str(BASE_DIR / NOVAMIND_AUDIT_CHECKPOINT_DIR)

# --- Backups (novamind.backups; README, "Backups and restore drills") ------------------------
# backup_database writes encrypted pg_dump backups and their manifests here (var/backups in
# development; required by the command in production). Backups are encrypted with age to
# NOVAMIND_BACKUP_RECIPIENT (an X25519 public key, "age1…"); only restore_drill (and a real
# restore) needs the private key, read from NOVAMIND_BACKUP_IDENTITY_FILE, which the web hosts
# never hold. NOVAMIND_PG_BIN_DIR: where pg_dump and pg_restore are (default: the server's major
# version under /usr/lib/postgresql, else PATH).
NOVAMIND_BACKUP_DIR = env.str("NOVAMIND_BACKUP_DIR", default="") or (None if PRODUCTION else "var/backups")
if NOVAMIND_BACKUP_DIR:
    NOVAMIND_BACKUP_DIR = str(BASE_DIR / NOVAMIND_BACKUP_DIR)
NOVAMIND_BACKUP_RECIPIENT = env.str("NOVAMIND_BACKUP_RECIPIENT", default="").strip()
NOVAMIND_BACKUP_IDENTITY_FILE = env.str("NOVAMIND_BACKUP_IDENTITY_FILE", default="").strip()
NOVAMIND_PG_BIN_DIR = env.str("NOVAMIND_PG_BIN_DIR", default="").strip()

# --- Logging --------------------------------------------------------------------------------
# Request bodies and model values are never logged; 500s are logged with the path only.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "no_sql": {"()": "novamind.security.DropSQLRecords"},
        "no_query_strings": {"()": "novamind.security.RedactQueryStrings"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["no_sql"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # SQL parameters carry ciphertext and blind indexes at best; keep them out anyway (the
        # level stops them at the source, the handler filter if someone lowers the level).
        "django.db.backends": {"level": "WARNING", "propagate": True},
        # The pool warns at every failed connection attempt, each in two lines; an outage is told
        # once per request or command instead (novamind.outages), and the pool's errors still show.
        "psycopg.pool": {"level": "ERROR", "propagate": True},
        # runserver's request lines: a search's query string is PHI.
        "django.server": {"handlers": ["server"], "filters": ["no_query_strings"], "level": "INFO", "propagate": False},
    },
}
# Error pages and e-mailed reports show no POST or GET values, request bodies, cookies or
# local variables: the forms and the objects in a view carry PHI.
DEFAULT_EXCEPTION_REPORTER = "novamind.security.PHISafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "novamind.security.PHISafeExceptionReporterFilter"

# --- NovaMind -------------------------------------------------------------------------------
# Phone numbers without a country code are read as numbers of this region.
NOVAMIND_DEFAULT_PHONE_REGION = env.str("NOVAMIND_DEFAULT_PHONE_REGION", default="US")
# A cancellation this close to the start is a late cancellation (billed; a clinical signal).
NOVAMIND_LATE_CANCELLATION_HOURS = env.int("NOVAMIND_LATE_CANCELLATION_HOURS", default=24)
# `mark_no_shows` waits this long after an appointment's end before marking it a no-show.
NOVAMIND_NO_SHOW_GRACE_MINUTES = env.int("NOVAMIND_NO_SHOW_GRACE_MINUTES", default=60)
# The longest appointment that can be booked (a half-day group or intake).
NOVAMIND_MAX_APPOINTMENT_MINUTES = env.int("NOVAMIND_MAX_APPOINTMENT_MINUTES", default=240)
# When visits are booked, in TIME_ZONE: the free-slot finder offers times inside these hours.
NOVAMIND_WORKING_HOURS = env.str("NOVAMIND_WORKING_HOURS", default="Mon-Fri 08:00-18:00")
# A note signed more than this many days after its date of service is flagged as a late entry.
NOVAMIND_LATE_ENTRY_DAYS = env.int("NOVAMIND_LATE_ENTRY_DAYS", default=3)
# Whether a progress note is signed only once it addresses at least one diagnosis (payers reject
# a visit without one).
NOVAMIND_SIGN_REQUIRES_DIAGNOSIS = env.bool("NOVAMIND_SIGN_REQUIRES_DIAGNOSIS", default=True)
# Years a former patient's record is kept after its last activity (HIPAA: at least 6; see clinic/retention.py).
NOVAMIND_RETENTION_YEARS = env.int("NOVAMIND_RETENTION_YEARS", default=10)
# Emergency ("break the glass") access to a patient outside one's care ends after this long.
NOVAMIND_EMERGENCY_ACCESS_MINUTES = env.int("NOVAMIND_EMERGENCY_ACCESS_MINUTES", default=60)
# A new dose more than this many times higher or lower than the one it follows (or in another
# unit) is prescribed only once the prescriber confirms it (medications.domain.dose_change).
NOVAMIND_DOSE_CHANGE_FACTOR = env.float("NOVAMIND_DOSE_CHANGE_FACTOR", default=4.0)
# A treatment plan is due for review this many days after it is signed (treatment_plans.domain).
NOVAMIND_PLAN_REVIEW_DAYS = env.int("NOVAMIND_PLAN_REVIEW_DAYS", default=90)
# A risk answer (PHQ-9 item 9 above 0) not reviewed by the patient's care team within this many
# hours is overdue: `risk_alerts --overdue` lists it, for cron (assessments.domain).
NOVAMIND_RISK_REVIEW_HOURS = env.int("NOVAMIND_RISK_REVIEW_HOURS", default=24)
# The system URI of the clinic's MRNs in FHIR (Patient.identifier.system): the export writes it,
# the import matches on it (fhir.mapping holds the default).
NOVAMIND_FHIR_IDENTIFIER_SYSTEM = env.str("NOVAMIND_FHIR_IDENTIFIER_SYSTEM", default="urn:novamind:mrn")
