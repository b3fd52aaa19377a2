"""`check --deploy --fail-level WARNING` passes in production mode; the CSP keeps the admin working.

The deploy check runs `manage.py` in a subprocess with a production environment: fresh keys
generated here, NOVAMIND_MODE=production, ALLOWED_HOSTS, and a loopback PostgreSQL database
(production runs on PostgreSQL only; the maintenance database `postgres`, which holds no
NovaMind tables, so the encryption canary check has nothing to decrypt).
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.db import connection
from django.urls import reverse

from novamind import config

BASE_DIR = Path(settings.BASE_DIR)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Variables of the developer's shell that would leak into the child's configuration.
INHERITED = re.compile(
    r"^(NOVAMIND_|DATABASE_|SECURE_|SESSION_)|^(SECRET_KEY|FIELD_ENCRYPTION_KEY|BLIND_INDEX_KEY|AUDIT_LOG_KEY|DEBUG|ALLOWED_HOSTS|DJANGO_SETTINGS_MODULE)$"
)


def loopback_postgres_url() -> str:
    """Return a URL of the loopback PostgreSQL server's `postgres` database, or skip (fail in CI)."""
    if connection.vendor == "postgresql":
        params = connection.settings_dict
        user, password = params["USER"], params["PASSWORD"]
        host, port = params["HOST"] or "127.0.0.1", params["PORT"] or "5432"
    else:
        configured = urlsplit(os.environ.get("DATABASE_URL", ""))
        if configured.scheme.startswith("postgres"):
            user, password = configured.username or "postgres", configured.password or ""
            host, port = configured.hostname or "127.0.0.1", str(configured.port or 5432)
        else:
            user, password, host, port = "postgres", "", "127.0.0.1", "5432"
    problem = None
    if host not in LOOPBACK:
        problem = f"the PostgreSQL server {host} is not on this machine"
    else:
        import psycopg

        try:
            psycopg.connect(
                host=host,
                port=port,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=5,
                sslmode="disable",
            ).close()
        except psycopg.OperationalError as error:
            problem = f"no PostgreSQL server answers on {host}:{port} ({error.__class__.__name__})"
    if problem:
        message = "the production deploy check needs a loopback PostgreSQL server: " + problem
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    credentials = quote(user) + (":" + quote(password) if password else "")
    return f"postgres://{credentials}@{'[::1]' if host == '::1' else host}:{port}/postgres"


def production_environment(**overrides) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not INHERITED.search(name)}
    environment.update(
        NOVAMIND_MODE="production",
        DEBUG="off",
        SECRET_KEY=secrets.token_urlsafe(64),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        BLIND_INDEX_KEY=secrets.token_urlsafe(48),
        AUDIT_LOG_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="clinic.example.org",
        DATABASE_URL=loopback_postgres_url(),
        DATABASE_SSLMODE="disable",  # loopback only: accepted by novamind.E021
        DATABASE_POOL="false",
        NOVAMIND_AUDIT_CHECKPOINT_DIR="/var/lib/novamind/audit-checkpoints",  # only named: `check` writes none
    )
    environment.update(overrides)
    return environment


def manage(*args, **overrides) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=production_environment(**overrides),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_deploy_passes_at_warning_level_in_production_mode():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"SECRET_KEY": config.generate_development_keys()["SECRET_KEY"]}, "novamind.E002"),
        ({"FIELD_ENCRYPTION_KEY": config.generate_development_keys()["FIELD_ENCRYPTION_KEY"]}, "novamind.E005"),
        ({"DEBUG": "on"}, "novamind.E009"),
        ({"NOVAMIND_SESSION_IDLE_MINUTES": "0"}, "novamind.E032"),
        ({"NOVAMIND_AUDIT_CHECKPOINT_DIR": ""}, "novamind.E050"),
    ],
)
def test_check_deploy_fails_in_production_with(overrides, expected):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **overrides)
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout


def test_production_reads_the_safeguards_from_the_environment():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.NOVAMIND_REQUIRE_TWO_FACTOR, s.NOVAMIND_SESSION_IDLE_MINUTES, s.NOVAMIND_SESSION_ABSOLUTE_HOURS, "
        "s.SESSION_COOKIE_AGE, s.AXES_FAILURE_LIMIT, int(s.AXES_COOLOFF_TIME.total_seconds()), s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        env=production_environment(
            DJANGO_SETTINGS_MODULE="novamind.settings",
            DEBUG="on",
            NOVAMIND_REQUIRE_TWO_FACTOR="off",
            NOVAMIND_SESSION_IDLE_MINUTES="10",
            NOVAMIND_SESSION_ABSOLUTE_HOURS="8",
            NOVAMIND_LOCKOUT_FAILURES="3",
            NOVAMIND_LOCKOUT_MINUTES="30",
        ),
    )
    assert result.returncode == 0, result.stderr
    # DEBUG and two-factor login cannot be switched off in production; the limits are read.
    assert result.stdout.split() == [
        "False",
        "True",
        "10",
        "8",
        str(8 * 3600),
        "3",
        "1800",
        "True",
        "True",
        "True",
        "31536000",
    ]


@pytest.mark.parametrize("configured", ["audit-checkpoints", "/mnt/worm/novamind"])
def test_the_checkpoint_directory_does_not_depend_on_the_working_directory(configured, tmp_path):
    """cron starts verify_audit elsewhere than the web server: a relative path is taken from the project root."""
    script = (
        "import django; django.setup(); from django.conf import settings as s; print(s.NOVAMIND_AUDIT_CHECKPOINT_DIR)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=production_environment(
            DJANGO_SETTINGS_MODULE="novamind.settings",
            PYTHONPATH=str(BASE_DIR),
            NOVAMIND_AUDIT_CHECKPOINT_DIR=configured,
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(BASE_DIR / configured)


# --- Content security policy -----------------------------------------------------------------


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_every_page_carries_a_strict_content_security_policy(client, db):
    directives = policy(client.get("/admin/login/"))
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert not any("unsafe" in value for values in directives.values() for value in values)


def test_an_inline_style_of_an_admin_page_carries_the_nonce_of_its_policy(staff_client):
    response = staff_client.get(reverse("admin:appointments_appointment_day"))
    assert response.status_code == 200
    nonce = re.search(r"'nonce-([^']+)'", " ".join(policy(response)["style-src"])).group(1)
    styles = re.findall(r"<style([^>]*)>", response.content.decode())
    assert styles and all(f'nonce="{nonce}"' in attributes for attributes in styles)


def project_templates():
    for app in ("novamind", "patients", "appointments", "clinical_notes", "medications", "clinic"):
        yield from sorted((BASE_DIR / app / "templates").rglob("*.html"))


# A standalone document written to a file by export_patient_record, never served by Django:
# it carries its own policy in a <meta> element.
NOT_SERVED = {"clinic/templates/clinic/patient_record.html"}


@pytest.mark.parametrize(
    "template",
    [
        pytest.param(path, id=str(path.relative_to(BASE_DIR)))
        for path in project_templates()
        if str(path.relative_to(BASE_DIR)) not in NOT_SERVED
    ],
)
def test_templates_use_no_inline_script_or_style_the_policy_would_block(template):
    text = template.read_text(encoding="utf-8")
    for tag in re.findall(r"<(?:style|script)\b[^>]*>", text):
        assert "src=" in tag or 'nonce="{{ request.csp_nonce }}"' in tag, tag
    assert not re.search(r"\sstyle\s*=", text), "style attribute"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert "javascript:" not in text
