"""Fixtures shared by every app's tests: named staff users and the admin client."""

import os
import shutil

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

# The password make_staff gives every staff member, for tests that sign in through the login form.
STAFF_PASSWORD = "correct horse battery staple"


def pytest_configure(config):
    """Hash passwords fast under pytest: PBKDF2's 1,000,000 rounds were most of the suite's time.

    A test that needs the production hasher says so with the `settings` fixture.
    """
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_hashers.cache_clear()


def make_staff(username, *, superuser=False, permissions=("patients", "appointments", "clinical_notes", "medications")):
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


@pytest.fixture
def hostile_dba(db):
    """Return a function that runs raw SQL as an insider with the tables' owner rights would.

    Tamper tests act through it (altering, deleting or inserting audit rows), inside the test's
    transaction. On PostgreSQL the access log's append-only trigger is switched off first, as
    the owner of the table could.
    """

    def run(sql, params=()):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE waits for no deferred FK check
                cursor.execute("ALTER TABLE novamind_accesslogentry DISABLE TRIGGER novamind_access_log_append_only")
            cursor.execute(sql, params)

    return run
