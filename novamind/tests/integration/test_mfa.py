"""Two-factor login: required in production (enrol, verify, recovery codes), a banner in development."""

import datetime as dt
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from novamind import mfa
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

BANNER = "Development mode: two-factor login is off"
PAGE = "/admin/patients/patient/"
ENROL = "/admin/two-factor/enrol/"
VERIFY = "/admin/two-factor/"
required = override_settings(NOVAMIND_REQUIRE_TWO_FACTOR=True)


def code_of(device, *, steps_ahead=0):
    """Return the code the authenticator app shows now (or `steps_ahead` time steps later)."""
    device.refresh_from_db()
    return str(
        totp(
            device.bin_key,
            step=device.step,
            t0=device.t0 - steps_ahead * device.step,
            digits=device.digits,
            drift=device.drift,
        )
    ).zfill(device.digits)


def enrolled(client, user):
    """Enrol `user`'s authenticator through the pages; return the device and the recovery codes."""
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user)
    response = client.post(ENROL, {"code": code_of(device), "next": PAGE})
    assert response.status_code == 200
    return device, response.context["codes"]


def fresh_session(user):
    client = Client()
    client.force_login(user)
    return client


class FrozenClock:
    def __init__(self):
        self.now = timezone.now()

    def __call__(self):
        return self.now


# --- Development mode -------------------------------------------------------------------------


@override_settings(NOVAMIND_REQUIRE_TWO_FACTOR=False)
def test_development_mode_lets_staff_in_with_a_password_and_says_so_on_every_admin_page(staff_client):
    assert BANNER in Client().get("/admin/login/").content.decode()
    for url in ("/admin/", PAGE, "/admin/patients/patient/add/", "/admin/password_change/"):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        assert BANNER in response.content.decode(), url


# --- Production: enrolment --------------------------------------------------------------------


@required
def test_production_sends_a_staff_member_without_an_authenticator_to_enrolment(staff_client):
    response = staff_client.get(PAGE)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == ENROL and parse_qs(location.query)["next"] == [PAGE]
    # Any page, any method: a POST is not let through either.
    assert staff_client.post("/admin/patients/patient/add/", {})["Location"].startswith(ENROL)
    assert BANNER not in staff_client.get("/admin/login/").content.decode()


@required
def test_enrolment_shows_the_otpauth_uri_secret_and_a_qr_code(staff_client, staff):
    page = staff_client.get(ENROL + "?next=" + PAGE)
    assert page.status_code == 200
    content = page.content.decode()
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    enrolment = mfa.enrolment(device)
    assert enrolment.uri.startswith("otpauth://totp/NovaMind%3Aalice?secret=")
    assert "issuer=NovaMind" in enrolment.uri
    assert enrolment.uri.replace("&", "&amp;") in content
    assert enrolment.secret in content and "<svg" in content
    assert BANNER not in content
    # Reloading the page shows the same secret, not a new one each time.
    staff_client.get(ENROL)
    assert TOTPDevice.objects.filter(user=staff).count() == 1


@required
def test_a_wrong_first_code_confirms_nothing_and_is_logged(staff_client, staff):
    staff_client.get(ENROL)
    device = TOTPDevice.objects.get(user=staff)
    wrong = str((int(code_of(device)) + 1) % 1_000_000).zfill(6)
    response = staff_client.post(ENROL, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert staff_client.get(PAGE).status_code == 302
    entry = AccessLogEntry.objects.get(action=mfa.ENROL_ACTION)
    assert (entry.user, entry.outcome, entry.category) == (staff, "refused", "session")


@required
def test_the_right_first_code_confirms_the_app_shows_10_recovery_codes_and_lets_the_user_in(staff_client, staff):
    device, codes = enrolled(staff_client, staff)
    device.refresh_from_db()
    assert device.confirmed
    assert len(codes) == 10 and len(set(codes)) == 10
    assert sorted(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True)) == sorted(codes)
    assert staff_client.get(PAGE).status_code == 200
    assert staff_client.get(ENROL).status_code == 302  # enrolled: nothing to enrol again
    assert AccessLogEntry.objects.filter(action=mfa.ENROL_ACTION, outcome="granted", user=staff).count() == 1


# --- Production: every later sign-in ----------------------------------------------------------


@required
def test_a_new_session_must_type_a_code_from_the_app(staff_client, staff):
    device, _ = enrolled(staff_client, staff)
    later = fresh_session(staff)
    response = later.get(PAGE)
    assert response.status_code == 302 and urlsplit(response["Location"]).path == VERIFY
    assert later.get(response["Location"]).status_code == 200

    wrong = later.post(VERIFY, {"code": "000000", "next": PAGE})
    assert wrong.status_code == 200 and later.get(PAGE).status_code == 302

    # django-otp throttles after a wrong code; step past the wait instead of sleeping.
    clock = FrozenClock()
    clock.now += dt.timedelta(seconds=5)
    with mock.patch.object(timezone, "now", clock):
        ok = later.post(VERIFY, {"code": code_of(device, steps_ahead=1), "next": PAGE})
    assert ok.status_code == 302 and ok["Location"] == PAGE
    assert later.get(PAGE).status_code == 200
    outcomes = list(
        AccessLogEntry.objects.filter(action=mfa.VERIFY_ACTION).order_by("sequence").values_list("outcome", flat=True)
    )
    assert outcomes == ["refused", "granted"]


@required
def test_a_code_cannot_be_replayed_in_another_session(staff_client, staff):
    device, _ = enrolled(staff_client, staff)
    first = fresh_session(staff)
    code = code_of(device, steps_ahead=1)
    assert first.post(VERIFY, {"code": code})["Location"] == "/admin/"
    second = fresh_session(staff)
    response = second.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert "That code is not right, or was already used." in response.content.decode()


@required
def test_repeated_wrong_codes_are_slowed_down(staff_client, staff):
    enrolled(staff_client, staff)
    later = fresh_session(staff)
    with mock.patch.object(timezone, "now", FrozenClock()):
        later.post(VERIFY, {"code": "000000"})
        response = later.post(VERIFY, {"code": "000001"})
    assert "Too many wrong codes" in response.content.decode()


@required
def test_a_recovery_code_works_once(staff_client, staff):
    _, codes = enrolled(staff_client, staff)
    first = fresh_session(staff)
    assert first.post(VERIFY, {"code": codes[0].upper()[:4] + " " + codes[0][4:], "next": PAGE})["Location"] == PAGE
    assert first.get(PAGE).status_code == 200
    assert StaticToken.objects.filter(device__user=staff).count() == 9
    second = fresh_session(staff)
    assert second.post(VERIFY, {"code": codes[0]}).status_code == 200
    assert second.get(PAGE).status_code == 302
    detail = AccessLogEntry.objects.filter(action=mfa.VERIFY_ACTION, outcome="granted").get().detail
    assert detail == "recovery code used"


@required
def test_an_unverified_user_can_still_sign_out(staff_client, staff):
    enrolled(staff_client, staff)
    later = fresh_session(staff)
    assert later.post("/admin/logout/").status_code == 200
    assert "_auth_user_id" not in later.session


@required
def test_next_never_leaves_the_site(staff_client, staff):
    device, _ = enrolled(staff_client, staff)
    later = fresh_session(staff)
    response = later.post(VERIFY, {"code": code_of(device, steps_ahead=1), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


def test_the_flag_is_read_per_request(staff_client):
    with override_settings(NOVAMIND_REQUIRE_TWO_FACTOR=True):
        assert staff_client.get(PAGE).status_code == 302
    with override_settings(NOVAMIND_REQUIRE_TWO_FACTOR=False):
        assert staff_client.get(PAGE).status_code == 200


def test_the_pages_need_a_signed_in_user(client):
    for url in (ENROL, VERIFY):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_recovery_codes_replace_the_earlier_ones(staff):
    first = mfa.replace_recovery_codes(staff)
    second = mfa.replace_recovery_codes(staff)
    assert StaticDevice.objects.filter(user=staff).count() == 1
    stored = set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    assert stored == set(second) and not stored & set(first)
