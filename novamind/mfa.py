"""Two-factor login: who must pass it, enrolling an authenticator app, and recovery codes.

Staff sign in with their password on the admin login page (django-axes counts the failures),
then prove a second factor on a page of its own: a six-digit code from an authenticator app
(TOTP, RFC 6238, via django-otp) or one of ten single-use recovery codes. Until they have done
so, `novamind.middleware.TwoFactorMiddleware` sends every request of theirs to that page, or to
enrolment if they have no authenticator yet. Production mode always requires it
(`NOVAMIND_REQUIRE_TWO_FACTOR` is forced on); development mode leaves it off by default and
every admin page says so.

Sign-ins and refusals of the second factor are written to the access log (category "session"),
so an audit report shows who proved a second factor when and from where.
"""

from __future__ import annotations

import base64
import dataclasses
import re

import django_otp
import segno
from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from novamind import access

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "authenticator app"
RECOVERY_DEVICE_NAME = "recovery codes"
CATEGORY = "session"
VERIFY_ACTION = "two-factor sign-in"
ENROL_ACTION = "two-factor enrolment"
TOTP_CODE = re.compile(r"^\d{6}$")


def required() -> bool:
    """Return whether signed-in users must prove a second factor (read per request)."""
    return bool(getattr(settings, "NOVAMIND_REQUIRE_TWO_FACTOR", False))


def context(request) -> dict:
    """Template context processor: the development banner shows when this is False."""
    return {"two_factor_required": required()}


def is_verified(user) -> bool:
    """Return whether `user` proved a second factor in this session."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def has_authenticator(user) -> bool:
    """Return whether `user` has a confirmed second factor."""
    return django_otp.user_has_device(user, confirmed=True)


@dataclasses.dataclass(frozen=True)
class Enrolment:
    """What an authenticator app needs: the otpauth URI, its secret, and the URI as a QR code."""

    uri: str
    secret: str
    qr_svg: str


def pending_authenticator(user) -> TOTPDevice:
    """Return `user`'s unconfirmed authenticator, creating one with a fresh secret if needed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def enrolment(device: TOTPDevice) -> Enrolment:
    """Return the details an authenticator app is set up with."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    # Inline SVG, dark on a white square so it scans in the admin's dark theme too; no image
    # fetch, no style attribute, so the content security policy needs no exception for it.
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=5, light="#fff")
    return Enrolment(uri=device.config_url, secret=grouped, qr_svg=qr_svg)


def normalise(token: str) -> str:
    """Return a typed code without the spaces and dashes people add, in lower case."""
    return re.sub(r"[\s-]", "", token or "").lower()


def confirm_authenticator(*, request, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm `device` with its first code and return new recovery codes; None if the code is wrong.

    On success the session counts as verified with this device.
    """
    user = request.user
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
        if not device.verify_token(normalise(token)):
            access.record(
                user=user,
                action=ENROL_ACTION,
                category=CATEGORY,
                outcome=access.REFUSED,
                request=request,
                detail="wrong first code from the authenticator app",
            )
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = replace_recovery_codes(user)
        access.record(
            user=user,
            action=ENROL_ACTION,
            category=CATEGORY,
            request=request,
            detail=f"authenticator app confirmed; {len(codes)} recovery codes issued",
        )
    django_otp.login(request, device)
    return codes


def replace_recovery_codes(user) -> list[str]:
    """Issue `RECOVERY_CODE_COUNT` new single-use recovery codes, voiding any earlier ones."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    for code in codes:
        device.token_set.create(token=code)
    return codes


@dataclasses.dataclass(frozen=True)
class Verification:
    """The outcome of a second-factor attempt."""

    ok: bool
    throttled: bool = False
    used_recovery_code: bool = False


def verify(*, request, token: str) -> Verification:
    """Check a code from the user's authenticator or a recovery code; on success mark the session.

    A six-digit code is tried against the authenticator apps, anything else against the
    recovery codes (each works once). django-otp doubles the wait after every wrong code.
    """
    user = request.user
    token = normalise(token)
    kind = TOTPDevice if TOTP_CODE.match(token) else StaticDevice
    devices = list(kind.objects.devices_for_user(user, confirmed=True))
    # Inside the wait after a wrong code a device refuses even the right one: say so.
    throttled = bool(devices) and not any(device.verify_is_allowed()[0] for device in devices)
    for device in devices:
        matched = django_otp.verify_token(user, device.persistent_id, token)
        if matched is not None:
            django_otp.login(request, matched)
            recovery = kind is StaticDevice
            access.record(
                user=user,
                action=VERIFY_ACTION,
                category=CATEGORY,
                request=request,
                detail="recovery code used" if recovery else "authenticator app code",
            )
            return Verification(ok=True, used_recovery_code=recovery)
    access.record(
        user=user,
        action=VERIFY_ACTION,
        category=CATEGORY,
        outcome=access.REFUSED,
        request=request,
        detail="attempt inside the wait after a wrong code" if throttled else "wrong or reused code",
    )
    return Verification(ok=False, throttled=throttled)
