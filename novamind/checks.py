"""System checks: NovaMind refuses to start with unsafe keys, a wrong key, or plaintext TLS."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, connections

from novamind import config, db_router, dbroles, encryption, outages

LOOPBACK_HOSTS = {"", "127.0.0.1", "localhost", "::1"}
TLS_MODES = {"require", "verify-ca", "verify-full"}


def _key_errors() -> list[checks.CheckMessage]:
    errors = []
    secret = settings.SECRET_KEY
    if secret == config.MISSING_PLACEHOLDER_SECRET:
        errors.append(
            checks.Error("SECRET_KEY is not set.", hint="Set SECRET_KEY in the environment.", id="novamind.E001")
        )
    elif secret.startswith("django-insecure") or len(secret) < 50:
        errors.append(
            checks.Error(
                "SECRET_KEY is a development key or shorter than 50 characters.",
                hint="Generate a production key: python -c 'import secrets; print(secrets.token_urlsafe(64))'",
                id="novamind.E002",
            )
        )
    keys = settings.FIELD_ENCRYPTION_KEY
    if keys == [config.MISSING_PLACEHOLDER_FERNET]:
        errors.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEY is not set.",
                hint="Set FIELD_ENCRYPTION_KEY to one Fernet key, or a comma-separated list whose first key encrypts.",
                id="novamind.E003",
            )
        )
    else:
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                errors.append(
                    checks.Error(
                        f"FIELD_ENCRYPTION_KEY entry {position} is not a valid Fernet key.",
                        hint="Generate one: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'",
                        id="novamind.E004",
                    )
                )
                continue
            if config.is_development_fernet_key(key):
                errors.append(
                    checks.Error(
                        f"FIELD_ENCRYPTION_KEY entry {position} was generated for development.",
                        hint="Use a key generated for this deployment and kept in your secret store.",
                        id="novamind.E005",
                    )
                )
    blind = settings.BLIND_INDEX_KEY
    if not blind:
        errors.append(
            checks.Error(
                "BLIND_INDEX_KEY is not set.",
                hint="Set BLIND_INDEX_KEY to at least 32 random characters, distinct from the encryption key.",
                id="novamind.E006",
            )
        )
    elif blind.startswith(config.DEV_BLIND_INDEX_PREFIX) or len(blind) < 32:
        errors.append(
            checks.Error("BLIND_INDEX_KEY is a development key or shorter than 32 characters.", id="novamind.E007")
        )
    elif blind in keys:
        errors.append(checks.Error("BLIND_INDEX_KEY must differ from every FIELD_ENCRYPTION_KEY.", id="novamind.E008"))
    audit_key = settings.AUDIT_LOG_KEY
    if not audit_key or audit_key.startswith(config.DEV_BLIND_INDEX_PREFIX) or len(audit_key) < 32:
        errors.append(
            checks.Error(
                "AUDIT_LOG_KEY is missing, a development key, or shorter than 32 characters.", id="novamind.E012"
            )
        )
    elif audit_key in (blind, *keys):
        errors.append(
            checks.Error("AUDIT_LOG_KEY must differ from the encryption and blind-index keys.", id="novamind.E013")
        )
    return errors


def _tls_errors(databases: dict | None = None) -> list[checks.CheckMessage]:
    errors = []
    databases = connections.databases if databases is None else databases
    for alias, database in databases.items():
        if database["ENGINE"] != "django.db.backends.postgresql":
            errors.append(
                checks.Error(
                    f"Database '{alias}' is not PostgreSQL; production runs on PostgreSQL only.", id="novamind.E020"
                )
            )
            continue
        sslmode = database.get("OPTIONS", {}).get("sslmode", "prefer")
        if sslmode not in TLS_MODES and database.get("HOST", "") not in LOOPBACK_HOSTS:
            errors.append(
                checks.Error(
                    f"Database '{alias}' connects with sslmode={sslmode} to a remote host: PHI would cross the network without enforced TLS.",
                    hint="Set DATABASE_SSLMODE=require (or verify-full with DATABASE_SSLROOTCERT).",
                    id="novamind.E021",
                )
            )
    return errors


@checks.register("novamind")
def check_production_configuration(app_configs=None, **kwargs):
    """Refuse development keys, missing keys and unencrypted database links in production."""
    if not settings.PRODUCTION:
        return []
    errors = _key_errors() + _tls_errors()
    if settings.DEBUG or getattr(settings, "NOVAMIND_DEBUG_REQUESTED", False):
        errors.append(
            checks.Error("DEBUG must be off in production.", hint="Unset DEBUG in the environment.", id="novamind.E009")
        )
    return errors + _login_safeguard_errors() + _checkpoint_errors()


def _checkpoint_errors() -> list[checks.CheckMessage]:
    if settings.NOVAMIND_AUDIT_CHECKPOINT_DIR:
        return []
    return [
        checks.Error(
            "NOVAMIND_AUDIT_CHECKPOINT_DIR is not set: nothing outside the database would show that the audit "
            "trail was emptied or trimmed.",
            hint="Set it to a directory on write-once (object-lock) storage, or on another host, that verify_audit may write to.",
            id="novamind.E050",
        )
    ]


# What production must have in MIDDLEWARE for sessions, two-factor login, lockout and the CSP.
PRODUCTION_MIDDLEWARE = (
    "csp.middleware.CSPMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "novamind.middleware.SessionTimeoutMiddleware",
    "novamind.middleware.TwoFactorMiddleware",
    "axes.middleware.AxesMiddleware",
)


def _login_safeguard_errors() -> list[checks.CheckMessage]:
    errors = [
        checks.Error(f"{name} is missing from MIDDLEWARE.", id="novamind.E030")
        for name in PRODUCTION_MIDDLEWARE
        if name not in settings.MIDDLEWARE
    ]
    if not settings.NOVAMIND_REQUIRE_TWO_FACTOR:
        errors.append(checks.Error("Two-factor login is off in production.", id="novamind.E031"))
    return errors


@checks.register("novamind")
def check_session_limits(app_configs=None, **kwargs):
    """Refuse session and lockout limits that would switch the safeguard off."""
    errors = []
    idle, absolute = settings.NOVAMIND_SESSION_IDLE_MINUTES, settings.NOVAMIND_SESSION_ABSOLUTE_HOURS
    if idle < 1 or absolute < 1 or idle > absolute * 60:
        errors.append(
            checks.Error(
                f"Session limits are inconsistent: idle {idle} minutes, absolute {absolute} hours.",
                hint="NOVAMIND_SESSION_IDLE_MINUTES must be at least 1 and at most the absolute limit; "
                "NOVAMIND_SESSION_ABSOLUTE_HOURS at least 1.",
                id="novamind.E032",
            )
        )
    if settings.AXES_FAILURE_LIMIT < 1 or settings.AXES_COOLOFF_TIME.total_seconds() < 60:
        errors.append(
            checks.Error(
                "Login lockout is off: NOVAMIND_LOCKOUT_FAILURES must be at least 1 and "
                "NOVAMIND_LOCKOUT_MINUTES at least 1.",
                id="novamind.E033",
            )
        )
    return errors


@checks.register("novamind")
def check_encryption_canary(app_configs=None, **kwargs):
    """Decrypt the stored canary: a wrong FIELD_ENCRYPTION_KEY stops start-up here."""
    from novamind.models import EncryptionCanary

    messages = []
    for alias in connections:
        if alias == db_router.REPLICA:
            continue  # a streaming copy of the primary's files: its canary is the primary's
        try:
            if EncryptionCanary._meta.db_table not in connections[alias].introspection.table_names():
                continue  # not migrated yet: nothing is encrypted yet either
            canaries = list(EncryptionCanary.objects.using(alias).values_list("value", flat=True))
        except encryption.DecryptionError:
            messages.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEY cannot decrypt the data in database '{alias}'.",
                    hint="The key is wrong or missing. Restore the key this database was encrypted with "
                    "(a rotation keeps the old key after the new one until rotate_encryption_keys has run).",
                    id="novamind.E010",
                )
            )
            continue
        except DatabaseError as error:
            if outages.in_command() and outages.is_unavailable(error):
                raise  # a command cannot work without its database: manage.py says so in one line
            # A warning, not an error: a server may start before its database and answer 503 until
            # it is back; the first encrypted write checks the key then (novamind.encryption).
            reason = "the database is unavailable" if outages.is_unavailable(error) else "the query failed"
            messages.append(
                checks.Warning(
                    f"Could not read the encryption canary of '{alias}': {reason} ({error.__class__.__name__}).",
                    id="novamind.W010",
                )
            )
            continue
        if any(value != EncryptionCanary.PLAINTEXT for value in canaries):
            messages.append(
                checks.Error(f"The encryption canary of '{alias}' decrypts to the wrong value.", id="novamind.E011")
            )
    return messages


@checks.register("novamind")
def check_database_role(app_configs=None, **kwargs):
    """Warn, in production, when the database login could switch the audit trail's protection off.

    A warning, not an error: migrate, rotate_encryption_keys and purge_expired run as the owner
    by design, and an error would stop them. The deployment checklist's
    `check --deploy --fail-level WARNING`, run with the web process's settings, fails on it.
    """
    if not settings.PRODUCTION:
        return []
    messages = []
    for alias in connections:
        connection = connections[alias]
        if connection.vendor != "postgresql" or alias == db_router.REPLICA:
            continue  # a standby refuses every write, whoever logs in
        try:
            problems = dbroles.connected_role_problems(connection)
        except DatabaseError:
            continue  # the canary check reports an unreachable database
        if problems:
            messages.append(
                checks.Warning(
                    f"Database '{alias}': {'; and '.join(problems)}: this process could alter, empty or "
                    f"switch off the audit trail.",
                    hint="Expected only for migrate, rotate_encryption_keys and purge_expired. The web process, "
                    "cron and other commands must connect as the application role (DATABASE_APP_ROLE; "
                    "README, 'Database roles').",
                    id="novamind.W050",
                )
            )
    return messages
