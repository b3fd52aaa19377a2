"""/healthz says the process answers; /readyz that it can serve: database, migrations, key.

Both answer without a session and set no cookie; neither reads PHI, so neither leaves an
access-log entry. The outage is simulated as in test_database_outage.py: the request's
connection cannot be opened, as when the pool hands none out.
"""

import pytest
from cryptography.fernet import Fernet
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from psycopg_pool import PoolTimeout

from novamind import encryption, health
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def outage(client, monkeypatch):
    """Make every attempt to open the request's connection fail as an exhausted pool does."""

    def refuse():
        error = OperationalError("couldn't get a connection after 5.00 sec")
        error.__cause__ = PoolTimeout("couldn't get a connection after 5.00 sec")
        raise error

    monkeypatch.setattr(connection, "ensure_connection", refuse)
    return client


def assert_plain(response, status: int, body: str):
    assert response.status_code == status
    assert response.content.decode() == body + "\n"
    assert response["Content-Type"].startswith("text/plain")
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response
    assert not response.cookies


def test_healthz_answers_ok_without_a_session_or_a_cookie(client):
    assert_plain(client.get("/healthz"), 200, "ok")
    assert not Session.objects.exists()


def test_healthz_answers_ok_while_the_database_is_down(outage):
    assert_plain(outage.get("/healthz"), 200, "ok")


def test_readyz_answers_ready_without_a_session_a_cookie_or_an_access_log_entry(client):
    entries = AccessLogEntry.objects.count()
    assert_plain(client.get("/readyz"), 200, "ready")
    assert client.head("/readyz").status_code == 200
    assert not Session.objects.exists()
    assert AccessLogEntry.objects.count() == entries


def test_readyz_answers_503_while_the_database_is_down(outage):
    assert_plain(outage.get("/readyz"), 503, "not ready: the database is unavailable")


def test_readyz_answers_503_while_a_migration_on_disk_is_not_applied(client, monkeypatch):
    on_disk = health.expected_migrations() | {("novamind", "9999_not_yet_applied")}
    monkeypatch.setattr(health, "expected_migrations", lambda: on_disk)
    assert_plain(client.get("/readyz"), 503, "not ready: 1 migration(s) not applied")


def test_readyz_answers_503_when_the_key_cannot_decrypt_the_canary(client):
    with encryption.keys([Fernet.generate_key().decode()]):
        response = client.get("/readyz")
    assert_plain(response, 503, "not ready: FIELD_ENCRYPTION_KEY cannot decrypt the encryption canary")
    assert client.get("/readyz").status_code == 200  # the right key again


def test_the_probes_are_not_redirected_to_https_nor_refused_for_an_unlisted_host(client, settings):
    # A balancer probes the process by its address, over plain HTTP, behind the TLS proxy.
    settings.SECURE_SSL_REDIRECT = True
    for path, body in (("/healthz", "ok"), ("/readyz", "ready")):
        assert_plain(client.get(path, HTTP_HOST="10.1.2.3:8000"), 200, body)
    assert client.get("/admin/login/").status_code == 301  # everything else is


def test_a_signed_in_client_gets_the_same_answer_and_its_session_is_untouched(staff_client):
    before = Session.objects.get().expire_date
    assert_plain(staff_client.get("/readyz"), 200, "ready")
    assert Session.objects.get().expire_date == before


def test_only_get_and_head_are_probes(client):
    assert client.post("/healthz").status_code == 404
