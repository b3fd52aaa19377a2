"""Fixtures shared by every app's tests: named staff users, the admin client, the database owner's rights."""

import contextlib
import os
import secrets
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, connections
from django.db.transaction import TransactionManagementError

# The password make_staff gives every staff member, for tests that sign in through the login form.
STAFF_PASSWORD = "correct horse battery staple"


def pytest_configure(config):
    """Hash passwords fast under pytest, and serve static files without a collectstatic.

    PBKDF2's 1,000,000 rounds were most of the suite's time; a test that needs the production
    hasher says so with the `settings` fixture. Reporting reads stay on the primary too, even
    when DATABASE_REPLICA_URL names a replica: a test's rows are never committed, so a replica
    would not see them; the replica's own tests turn it on
    (novamind/tests/integration/test_read_replica.py).
    """
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()
    settings.NOVAMIND_REPLICA_READS = False
    # pytest-django turns DEBUG off, and the pages must render without a collectstatic: static
    # files are named and found as in development (the apps' directories, looked up by whitenoise
    # per request, so each test client's middleware starts without scanning them).
    # novamind/tests/integration/test_serving.py proves the production storage under gunicorn.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True


def make_staff(
    username,
    *,
    superuser=False,
    permissions=("patients", "diagnoses", "appointments", "clinical_notes", "medications", "assessments"),
):
    """Return a saved staff user with every permission of the given apps."""
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(
        username=username,
        password=STAFF_PASSWORD,
        is_staff=True,
        is_superuser=superuser,
        first_name=username.capitalize(),
    )
    if not superuser:
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label__in=permissions))
    return user


def assign_care(patient, clinician, *, by=None):
    """Put `clinician` on the care team of `patient` (a domain or ORM patient), as tests' front desk.

    Care begins only by an explicit act (patients.policy); tests that need a treating clinician
    say so with this, as the front desk would in the admin.
    """
    from novamind import audit
    from patients import models

    actor = by or get_user_model().objects.filter(is_superuser=True).first() or make_staff("carer", superuser=True)
    assignment = models.CareAssignment(patient_id=patient.id, clinician=clinician)
    audit.audited_save(assignment, actor=actor, reason="Care assigned", validate=False)
    clinician.__dict__.pop("_novamind_care_restricted", None)
    return assignment


@pytest.fixture
def staff(db):
    """A front-desk style staff member with all clinical-app permissions."""
    return make_staff("alice")


@pytest.fixture
def other_staff(db):
    """A second staff member, for attribution and concurrency tests."""
    return make_staff("bob")


@pytest.fixture
def staff_client(client, staff):
    """A test client signed in as `staff`."""
    client.force_login(staff)
    return client


@pytest.fixture
def on_postgres():
    """Skip unless the tests run on PostgreSQL (the production engine)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://…")


def browser_required() -> bool:
    """Return whether a missing browser must fail the run (CI) instead of skipping."""
    return os.environ.get("CI") == "true" or os.environ.get("NOVAMIND_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="session")
def chrome_driver_factory():
    """Return a function that starts headless Debian Chromium through Selenium."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        message = "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        if browser_required():
            pytest.fail(message + "; browser tests are required in CI")
        pytest.skip(message)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    def start():
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,1000",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        driver.implicitly_wait(5)
        return driver

    return start


# --- The database owner's rights, on a run as the application role (.ci/run) ------------------
#
# CI runs the PostgreSQL suite as the application role, as production runs the web process
# (README, "Database roles"). The test harness alone needs the owner's rights now and then: to
# create, migrate and drop the test database, to empty every table after a transactional test
# (Django's flush TRUNCATEs them all), and for the tests that act as the owner would (tamper
# tests, key rotation, purge). For that CI grants the application role NOINHERIT membership of
# the owner role: it holds none of the owner's rights until it asks with SET ROLE, which is what
# the helpers below do. Production never grants that membership (the check novamind.W050 warns).
# NOVAMIND_TEST_DATABASE_OWNER names the owner role; the harness needs it before the test
# database, and so the tables whose owner the helpers read, exist.
TEST_DATABASE_OWNER = os.environ.get("NOVAMIND_TEST_DATABASE_OWNER", "").strip()


def _owner_to_become(cursor) -> str | None:
    """Return the audit tables' owner if this session lacks its rights (None: it has them, or no table)."""
    cursor.execute(
        "SELECT pg_get_userbyid(relowner), pg_has_role(current_user, relowner, 'USAGE') "
        "FROM pg_class WHERE oid = to_regclass('novamind_accesslogentry')"
    )
    row = cursor.fetchone()
    return row[0] if row and not row[1] else None


@contextlib.contextmanager
def owner_rights(using="default"):
    """Act with the database owner's rights inside the block (a no-op when the session has them)."""
    database = connections[using]
    if database.vendor != "postgresql":
        yield
        return
    with database.cursor() as cursor:
        owner = _owner_to_become(cursor)
        if owner is not None:
            cursor.execute("SET ROLE %s", [owner])
    try:
        yield
    finally:
        if owner is not None:
            _reset_role(database)


def _reset_role(database):
    # After a refused statement the transaction is aborted and its rollback resets the role anyway.
    with contextlib.suppress(DatabaseError, TransactionManagementError), database.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _flush_with_owner_rights(execute_sql_flush):
    """Wrap Django's flush so it empties the audit tables as their owner, saying so by name."""
    from novamind import dbroles

    def flush(self, sql_list):
        with self.connection.cursor() as cursor:
            owner = _owner_to_become(cursor)
        # execute_sql_flush runs the list in one transaction: the SET LOCALs end with it.
        preamble = [f"SET LOCAL {dbroles.ALLOW_TRUNCATE_SETTING} = 'on'"]
        if owner is not None:
            preamble.insert(0, f"SET LOCAL ROLE {self.quote_name(owner)}")
        return execute_sql_flush(self, [*preamble, *sql_list])

    return flush


@pytest.fixture(scope="session", autouse=True)
def flush_as_owner():
    """Let the flush after a transactional test TRUNCATE the audit tables, past their guard."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.execute_sql_flush
    DatabaseOperations.execute_sql_flush = _flush_with_owner_rights(original)
    yield
    DatabaseOperations.execute_sql_flush = original


# Django 5.2 cannot assume a role on a pooled connection (its SET ROLE needs a connection the
# pool has not handed out yet), so set-up and tear-down run unpooled; the tests run pooled.
_POOL = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Create and migrate the test database as the owner role, when the run names one."""
    if TEST_DATABASE_OWNER:
        _POOL.update(pool=connections.databases["default"]["OPTIONS"].get("pool"))
        _act_as(TEST_DATABASE_OWNER)


def _act_as(owner):
    """Connect as the owner (SET ROLE, unpooled) or, with None, as the login itself."""
    database = connections["default"]
    options = database.settings_dict["OPTIONS"]
    if database.vendor == "postgresql":
        database.close_pool()  # pooled connections keep the role they were opened with
    database.close()
    options.pop("assume_role", None)
    options.pop("pool", None)
    if owner:
        options["assume_role"] = owner
    elif _POOL.get("pool"):
        options["pool"] = _POOL["pool"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Run the tests as the role DATABASE_URL logs in as; set up and tear down as the owner."""
    if not TEST_DATABASE_OWNER:
        yield
        return
    with django_db_blocker.unblock():
        _act_as(None)
    yield
    with django_db_blocker.unblock():
        _act_as(TEST_DATABASE_OWNER)


@pytest.fixture
def database_owner(db):
    """Give the test the database owner's rights, as the commands that run as the owner have them.

    migrate, rotate_encryption_keys and purge_expired run as the owner in production (README,
    "Database roles"); tests of their real work take this fixture, the others run as the
    application role.
    """
    with owner_rights():
        yield


@pytest.fixture
def application_role(db, on_postgres):
    """Run the test as the application role, and return its name.

    On a run as the application role (CI) that is the login itself. On a run as a superuser (a
    developer's `make test` as postgres), a role made for the test gets what every migrate grants
    DATABASE_APP_ROLE (novamind.dbroles.apply) and the test acts as it; the test's rollback
    removes it. Connected as the tables' owner, the test is skipped: it can make no such role.
    """
    from novamind import dbroles

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        current, superuser = cursor.fetchone()
        if not superuser and _owner_to_become(cursor) is None:
            pytest.skip("connected as the tables' owner: run as the application role or as a superuser")
        if superuser:
            current = f"novamind_test_app_{secrets.token_hex(4)}"
            cursor.execute(f"CREATE ROLE {current} NOLOGIN NOINHERIT")
    if superuser:
        dbroles.apply(connection, app_role=current)
        with connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {current}")
    yield current
    if superuser:
        _reset_role(connection)


@pytest.fixture
def hostile_dba(db):
    """Return a function that runs raw SQL as an insider with the tables' owner rights would.

    Tamper tests act through it (altering, deleting or inserting audit rows), inside the test's
    transaction. On PostgreSQL the access log's append-only trigger is switched off and the
    TRUNCATE guard lifted first, as the owner of the tables could; on a run as the application role, the SQL runs with the
    owner's rights (SET ROLE) and the test goes on as the application role afterwards.
    """

    from novamind import dbroles

    def run(sql, params=()):
        with owner_rights(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred FK check
                cursor.execute("ALTER TABLE novamind_accesslogentry DISABLE TRIGGER novamind_access_log_append_only")
                # The owner can also lift the TRUNCATE guard for its session (novamind.dbroles).
                cursor.execute(f"SET LOCAL {dbroles.ALLOW_TRUNCATE_SETTING} = 'on'")
            cursor.execute(sql, params)

    return run
