"""Request-wide rules: outages and undecryptable data answer 503, sessions time out, the second factor.

- `DatabaseUnavailableMiddleware` takes the request's database connection before anything else
  reads the session, so an outage answers a styled 503 page ("the database is unavailable;
  nothing was saved") after DATABASE_POOL_TIMEOUT, with one log line, instead of Django's bare
  500 and a traceback; an outage in the middle of a view gets the same page.
- `DecryptionErrorMiddleware` turns a stored value that does not decrypt, and a write refused
  because the key cannot decrypt the canary, into a clear 503 page instead of a crash page.
- `AccessDeniedMiddleware` turns a refusal of the access policy (`AccessDenied`) that a view did
  not catch into the 403 page (novamind.error_views), instead of a 500.
- `SessionTimeoutMiddleware` signs a user out after NOVAMIND_SESSION_IDLE_MINUTES without a
  request, or NOVAMIND_SESSION_ABSOLUTE_HOURS after they signed in, and sends them to the login
  page with a message saying which. It notes a request's time in the session only when the
  time noted is older than `last_seen_resolution()` (30 s at most), so a page does not write
  the session, and commit, on every request; the idle clock can then only end a session up to
  that much early, never late.
- `BadInputMiddleware` answers 400 (the styled page), with a sentence saying what was wrong, to
  input no page can use: a NUL byte in the query string (PostgreSQL refuses such strings), and,
  on any admin page, selected records or related-record ids that are not ids of that model
  (`?patient=abc`, `_selected_action=abc`), which would otherwise reach the database and answer 500.
- `TwoFactorMiddleware` sends a signed-in user whose password was reset by someone else to the
  password change page until they choose their own (novamind.staff), and one who has not
  proved a second factor to the verification page (or to enrolment), where it is required.
"""

import datetime as dt
import logging

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from novamind import access, error_views, mfa, outages, staff
from novamind.domain import AccessDenied
from novamind.encryption import DecryptionError, WrongKeyError

logger = logging.getLogger("novamind.encryption")
security_logger = logging.getLogger("novamind.security")

# Session keys: epoch seconds of the sign-in and of the last request (no PHI in the session).
SIGNED_IN_AT = "novamind_signed_in_at"
LAST_SEEN_AT = "novamind_last_seen_at"
# Set once this session's user is known not to have to change their password (one query a session).
PASSWORD_CHECKED = "novamind_password_checked"
PASSWORD_CHANGE_VIEWS = ("password-change", "admin:password_change", "admin:password_change_done", "admin:logout")
# "Last seen" is written when the time noted is at least this old (or a tenth of the idle limit).
LAST_SEEN_RESOLUTION_SECONDS = 30.0
IDLE = "idle"
ABSOLUTE = "absolute"
LONGEST_SEARCH = 200  # characters of an admin search

MESSAGE = (
    "<h1>Encrypted data cannot be read</h1><p>This server's encryption key does not match the "
    "data in its database. Nothing was changed. Ask the operator to restore the correct "
    "FIELD_ENCRYPTION_KEY (see <code>manage.py check</code>).</p>"
)
WRONG_KEY_MESSAGE = (
    "<h1>The encryption key is wrong: nothing was saved</h1><p>This server's encryption key "
    "cannot decrypt the data in its database, so it refused to store anything under it (the "
    "right key could never read it back). Ask the operator to restore the correct "
    "FIELD_ENCRYPTION_KEY (see <code>manage.py check</code>).</p>"
)


class DatabaseUnavailableMiddleware:
    """Answer 503 with a styled page, and log one line, when the database cannot be reached."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Every page reads the session or the user, so the connection is needed anyway; taking it
        # here, before the first middleware that reads the database, makes an outage one answer
        # instead of a 500 from whichever middleware happened to touch the database first.
        try:
            connection.ensure_connection()
        except (OperationalError, InterfaceError) as error:
            return database_unavailable(request, error)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if outages.is_unavailable(exception):
            return database_unavailable(request, exception)
        return None


def database_unavailable(request, error) -> HttpResponse:
    """Log one line (no traceback, no SQL) and return the 503 page that says nothing was saved."""
    outages.logger.error(
        "Refused %s %s: the database is unavailable (%s)", request.method, request.path, outages.describe(error)
    )
    # Rendered without the request: the context processors would ask the database for the user.
    response = HttpResponse(render_to_string(outages.PAGE), status=503)
    response["Retry-After"] = "30"
    # The outage was logged above, in one line; without this Django's request logger would add
    # a second ("Service Unavailable: <path>"). A private flag, set by Django's own handlers too.
    response._has_been_logged = True
    return response


class DecryptionErrorMiddleware:
    """Answer 503 when a view meets a value that does not decrypt under the configured key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, WrongKeyError):
            logger.error("Refused %s %s: the configured key cannot decrypt the canary", request.method, request.path)
            return HttpResponse(WRONG_KEY_MESSAGE, status=503)
        if isinstance(exception, DecryptionError):
            logger.error(
                "Refused %s %s: stored data does not decrypt with the configured key", request.method, request.path
            )
            return HttpResponse(MESSAGE, status=503)
        return None


class AccessDeniedMiddleware:
    """Answer the styled 403 page when the access policy refuses inside a view that did not catch it.

    Views turn a refusal into PermissionDenied themselves where they can say more (the admin's
    change and history pages do); any other `AccessDenied` would otherwise be a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, AccessDenied):
            # Django answers PermissionDenied with handler403 (novamind.error_views), and logs it.
            raise PermissionDenied from exception
        return None


def session_expiry(
    *, now: float, signed_in_at: float, last_seen_at: float, idle: dt.timedelta, absolute: dt.timedelta
) -> str | None:
    """Return why a session is over at `now` (ABSOLUTE or IDLE), or None while it is live."""
    if now - signed_in_at >= absolute.total_seconds():
        return ABSOLUTE
    if now - last_seen_at >= idle.total_seconds():
        return IDLE
    return None


def session_limits() -> tuple[dt.timedelta, dt.timedelta]:
    """Return the idle and absolute session limits in force (read per request)."""
    return (
        dt.timedelta(minutes=settings.NOVAMIND_SESSION_IDLE_MINUTES),
        dt.timedelta(hours=settings.NOVAMIND_SESSION_ABSOLUTE_HOURS),
    )


def last_seen_resolution(idle: dt.timedelta) -> float:
    """Return how stale, in seconds, the noted time of the last request may get before it is noted again.

    At most LAST_SEEN_RESOLUTION_SECONDS, and a tenth of the idle limit: a one-minute limit must
    not sign out someone who clicks every 20 seconds.
    """
    return min(LAST_SEEN_RESOLUTION_SECONDS, idle.total_seconds() / 10)


class SessionTimeoutMiddleware:
    """Sign a user out after the idle or absolute limit; otherwise note this request's time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = timezone.now().timestamp()
            session = request.session
            signed_in_at, last_seen_at = session.get(SIGNED_IN_AT), session.get(LAST_SEEN_AT)
            idle, absolute = session_limits()
            if signed_in_at is not None and last_seen_at is not None:
                reason = session_expiry(
                    now=now, signed_in_at=signed_in_at, last_seen_at=last_seen_at, idle=idle, absolute=absolute
                )
                if reason is not None:
                    return self.sign_out(request, reason, idle, absolute)
            # Each assignment marks the session modified, which costs an UPDATE and a commit at
            # the end of the request: assign only what changes. The noted time lags the real
            # last request by less than the resolution, so idleness is measured from no later
            # than the real last request: a session ends on time or that much early, never late.
            if signed_in_at is None:
                session[SIGNED_IN_AT] = now
            if last_seen_at is None or now - last_seen_at >= last_seen_resolution(idle):
                session[LAST_SEEN_AT] = now
        response = self.get_response(request)
        # A sign-in during this request (the login view) starts both clocks.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.session.get(SIGNED_IN_AT) is None:
            now = timezone.now().timestamp()
            request.session[SIGNED_IN_AT] = request.session[LAST_SEEN_AT] = now
        return response

    def sign_out(self, request, reason, idle, absolute):
        """End the session, record why, and send the user to the login page with a notice."""
        user = request.user
        if reason == IDLE:
            minutes = int(idle.total_seconds() // 60)
            why = f"after {minutes} minutes without activity"
        else:
            hours = absolute.total_seconds() / 3600
            why = f"{hours:g} hours after signing in"
        access.record(
            user=user,
            action="sign-out",
            category=mfa.CATEGORY,
            request=request,
            detail=f"session ended {why} ({reason} limit)",
        )
        security_logger.info("Signed %s out %s (%s limit)", user.get_username(), why, reason)
        auth.logout(request)
        messages.warning(request, f"You were signed out {why}. Please sign in again.")
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class BadInputMiddleware:
    """Answer 400 to input that cannot name anything: NUL bytes, ids that are not ids.

    One rule for every admin page, the project's and third parties' (auth, axes, otp), so a new
    admin cannot forget it. Values that are well formed but name nothing are the view's to
    answer (a 404, an empty selection).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any("\x00" in key or "\x00" in value for key, values in request.GET.lists() for value in values):
            return bad_request(request, "The address holds a NUL character, which no search or filter can use.")
        if len(request.GET.get(SEARCH_VAR, "")) > LONGEST_SEARCH:
            # No name, MRN or username is this long; SQLite refuses such a LIKE pattern outright.
            return bad_request(request, f"The search is longer than {LONGEST_SEARCH} characters.")
        model_admin = getattr(view_func, "model_admin", None)
        if model_admin is None:
            return None
        model = model_admin.model
        if request.method == "POST" and ACTION_CHECKBOX_NAME in request.POST:
            pk = model._meta.pk
            if not all(is_value_of(pk, value) for value in request.POST.getlist(ACTION_CHECKBOX_NAME)):
                return bad_request(request, f"The selection names something that is not a {model._meta.verbose_name}.")
        for name, values in request.GET.lists():
            target = _related_key(model, name)
            if target is None:
                continue
            for value in values:
                parts = value.split(",") if target[1] else [value]
                if not all(is_value_of(target[0], part) for part in parts):
                    return bad_request(
                        request, f"“{name}” in the address is not the id of a {target[0].model._meta.verbose_name}."
                    )
        return None


def bad_request(request, message: str) -> HttpResponse:
    """Return the 400 page, saying in a sentence what was wrong with the request."""
    return error_views.bad_request(request, message=f"{message} Nothing was read or changed.")


def _related_key(model, name: str):
    """Return (the key field a relation `name` of `model` points at, whether it is many), or None."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    if not field.is_relation or field.auto_created or not field.concrete and not field.many_to_many:
        return None
    if field.many_to_many:
        return field.related_model._meta.pk, True
    return field.target_field, False


def is_value_of(field, value: str) -> bool:
    """Return whether `value` is a value the database column `field` can hold."""
    try:
        prepared = field.get_prep_value(field.to_python(value))
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    if isinstance(prepared, int):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        return (low is None or prepared >= low) and (high is None or prepared <= high)
    return True


class TwoFactorMiddleware:
    """Where two-factor login is required, send unverified users to verify or enrol first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.user.is_authenticated and self.must_change_password(request):
            if match is not None and match.view_name in PASSWORD_CHANGE_VIEWS:
                return None
            return HttpResponseRedirect(reverse("admin:password_change"))
        if not mfa.required() or not request.user.is_authenticated or mfa.is_verified(request.user):
            return None
        if getattr(view_func, "two_factor_exempt", False):
            return None
        if match is not None and match.view_name == "admin:logout":
            return None
        target = "two-factor-verify" if mfa.has_authenticator(request.user) else "two-factor-enrol"
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")

    @staticmethod
    def must_change_password(request) -> bool:
        """Return whether the user must change their password first (a reset by someone else)."""
        if request.session.get(PASSWORD_CHECKED):
            return False
        if staff.must_change_password(request.user):
            return True
        request.session[PASSWORD_CHECKED] = True
        return False
