"""django-axes on the real admin login: 5 wrong passwords lock the username from that address."""

import datetime as dt
import logging

import pytest
from axes.models import AccessAttempt
from django.conf import settings

from conftest import STAFF_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
RIGHT = STAFF_PASSWORD


def sign_in(client, password, username="alice", address="203.0.113.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client):
    return "_auth_user_id" in client.session


def test_the_defaults_are_5_failures_15_minutes_by_username_and_address():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == dt.timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_after_5_wrong_passwords_the_right_one_is_refused_with_429(client, staff, caplog):
    for attempt in range(1, 5):
        response = sign_in(client, f"wrong password {attempt}")
        assert response.status_code == 200, attempt
        assert "Please enter the correct username and password" in response.content.decode()
    with caplog.at_level(logging.WARNING, logger="novamind.security"):
        fifth = sign_in(client, "wrong password 5")
    assert fifth.status_code == 429
    assert "Sign-in refused: locked out after 5 failures" in caplog.text

    sixth = sign_in(client, RIGHT)
    assert sixth.status_code == 429
    assert not signed_in(client)
    page = sixth.content.decode()
    assert "Too many failed sign-ins" in page and "locked for 15 minutes" in page
    assert AccessAttempt.objects.get(username="alice", ip_address="203.0.113.7").failures_since_start >= 5


def test_the_lock_holds_the_username_from_that_address_only(client, staff):
    for attempt in range(5):
        sign_in(client, f"wrong {attempt}")
    assert sign_in(client, RIGHT).status_code == 429
    # Another desk is not locked out by a storm from this one …
    assert sign_in(client, RIGHT, address="198.51.100.20").status_code == 302
    assert signed_in(client)


def test_the_lock_lifts_after_the_cool_off(client, staff):
    for attempt in range(5):
        sign_in(client, f"wrong {attempt}")
    assert sign_in(client, RIGHT).status_code == 429
    # Time travel: the attempts were made 16 minutes ago.
    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= dt.timedelta(minutes=16)
        attempt.save()
    assert sign_in(client, RIGHT).status_code == 302
    assert signed_in(client)


def test_a_successful_sign_in_resets_the_count(client, staff):
    for attempt in range(4):
        sign_in(client, f"wrong {attempt}")
    assert sign_in(client, RIGHT).status_code == 302
    client.post("/admin/logout/")
    for attempt in range(4):
        assert sign_in(client, f"wrong again {attempt}").status_code == 200
    assert sign_in(client, RIGHT).status_code == 302


def test_an_unknown_username_is_locked_the_same_way(client, db):
    for _ in range(4):
        assert sign_in(client, "guess", username="nobody").status_code == 200
    assert sign_in(client, "guess", username="nobody").status_code == 429
