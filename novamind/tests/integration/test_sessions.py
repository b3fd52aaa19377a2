"""Sessions end after 15 idle minutes, 12 hours after sign-in, and with the browser."""

import datetime as dt
from unittest import mock

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from conftest import STAFF_PASSWORD
from novamind import middleware
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

PAGE = "/admin/patients/patient/"


class Clock:
    """A controllable `timezone.now` for the session middleware (no sleeping)."""

    def __init__(self):
        self.now = timezone.now()

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch.object(middleware.timezone, "now", clock):
        yield clock


def signed_in(client):
    return "_auth_user_id" in client.session


def test_the_defaults_are_15_idle_minutes_and_12_hours_ending_with_the_browser():
    assert settings.NOVAMIND_SESSION_IDLE_MINUTES == 15
    assert settings.NOVAMIND_SESSION_ABSOLUTE_HOURS == 12
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.SESSION_COOKIE_AGE == 12 * 60 * 60


def test_signing_in_through_the_form_sets_a_browser_session_cookie(client, staff, clock):
    response = client.post("/admin/login/", {"username": "alice", "password": STAFF_PASSWORD})
    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["expires"] == "" and cookie["max-age"] == ""  # gone when the browser closes
    assert client.session[middleware.SIGNED_IN_AT] == clock.now.timestamp()


def test_a_session_idle_for_15_minutes_is_signed_out_with_a_message_and_logged(staff_client, staff, clock):
    assert staff_client.get(PAGE).status_code == 200
    clock.advance(minutes=14, seconds=59)
    assert staff_client.get(PAGE).status_code == 200  # activity: the idle clock restarts here
    clock.advance(minutes=15)
    response = staff_client.get(PAGE + "?q=x")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/patients/patient/%3Fq%3Dx"
    assert not signed_in(staff_client)
    page = staff_client.get(response["Location"])
    assert "You were signed out after 15 minutes without activity" in page.content.decode()
    entry = AccessLogEntry.objects.get(action="sign-out")
    assert (entry.user, entry.category, entry.outcome) == (staff, "session", "granted")
    assert "idle limit" in entry.detail
    assert staff_client.get(PAGE).status_code == 302  # and it stays signed out


def test_activity_does_not_stretch_a_session_past_12_hours(staff_client, clock):
    assert staff_client.get(PAGE).status_code == 200
    for _ in range(51):  # a request every 14 minutes: never idle, 11 h 54 min in all
        clock.advance(minutes=14)
        assert staff_client.get(PAGE).status_code == 200
    clock.advance(minutes=6)
    response = staff_client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not signed_in(staff_client)
    assert "You were signed out 12 hours after signing in" in staff_client.get(response["Location"]).content.decode()
    assert "absolute limit" in AccessLogEntry.objects.get(action="sign-out").detail


@override_settings(NOVAMIND_SESSION_IDLE_MINUTES=5, NOVAMIND_SESSION_ABSOLUTE_HOURS=1)
def test_the_limits_are_read_from_settings_at_request_time(staff_client, clock):
    assert staff_client.get(PAGE).status_code == 200
    clock.advance(minutes=4)
    assert staff_client.get(PAGE).status_code == 200
    clock.advance(minutes=5)
    assert staff_client.get(PAGE).status_code == 302
    assert not signed_in(staff_client)


def test_an_anonymous_request_is_untouched(client, clock):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert middleware.SIGNED_IN_AT not in client.session


@pytest.mark.parametrize(
    "elapsed, since_last, expected",
    [
        (dt.timedelta(minutes=30), dt.timedelta(minutes=14), None),
        (dt.timedelta(minutes=30), dt.timedelta(minutes=15), middleware.IDLE),
        (dt.timedelta(hours=12), dt.timedelta(seconds=1), middleware.ABSOLUTE),
        (dt.timedelta(hours=13), dt.timedelta(hours=1), middleware.ABSOLUTE),
    ],
)
def test_session_expiry_rule(elapsed, since_last, expected):
    now = 1_800_000_000.0
    assert (
        middleware.session_expiry(
            now=now,
            signed_in_at=now - elapsed.total_seconds(),
            last_seen_at=now - since_last.total_seconds(),
            idle=dt.timedelta(minutes=15),
            absolute=dt.timedelta(hours=12),
        )
        == expected
    )


def _session_writes(client) -> int:
    """Return how many statements one request sends to the session table to write it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(PAGE).status_code == 200
    return sum(
        1 for query in queries if "django_session" in query["sql"] and not query["sql"].lstrip().startswith("SELECT")
    )


def test_a_request_soon_after_the_last_does_not_write_the_session(staff_client, clock):
    # Noting "last seen" on every request was a write, and a commit, on every page; the idle
    # clock only needs it when it has moved on by more than the resolution.
    assert staff_client.get(PAGE).status_code == 200
    clock.advance(seconds=2)
    assert _session_writes(staff_client) == 0
    clock.advance(seconds=middleware.LAST_SEEN_RESOLUTION_SECONDS)
    assert _session_writes(staff_client) == 1
    assert staff_client.session[middleware.LAST_SEEN_AT] == clock.now.timestamp()


def test_idle_is_never_later_than_the_limit_after_the_last_request(staff_client, clock):
    assert staff_client.get(PAGE).status_code == 200
    seen = clock.now
    clock.advance(seconds=middleware.LAST_SEEN_RESOLUTION_SECONDS - 1)
    assert staff_client.get(PAGE).status_code == 200  # not noted: the session keeps the earlier time
    clock.now = seen + dt.timedelta(minutes=15)
    assert staff_client.get(PAGE).status_code == 302  # 15 minutes after the noted request, not later
    assert not signed_in(staff_client)


@override_settings(NOVAMIND_SESSION_IDLE_MINUTES=1)
def test_steady_activity_keeps_a_short_idle_limit_alive(staff_client, clock):
    # With a one-minute idle limit the resolution shrinks to a tenth of it: a request every
    # 5 seconds for 5 minutes is never taken for a minute's idleness.
    assert staff_client.get(PAGE).status_code == 200
    for _ in range(60):
        clock.advance(seconds=5)
        assert staff_client.get(PAGE).status_code == 200
    assert signed_in(staff_client)


@pytest.mark.parametrize("idle, expected", [(dt.timedelta(minutes=15), 30.0), (dt.timedelta(minutes=1), 6.0)])
def test_last_seen_resolution_is_at_most_30_seconds_and_a_tenth_of_the_idle_limit(idle, expected):
    assert middleware.last_seen_resolution(idle) == expected
