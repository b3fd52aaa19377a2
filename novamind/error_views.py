"""The pages of a bad, refused or missing request, in the admin's look (novamind.urls' handler400/403/404).

Each says what happened in a sentence, links to the admin's index and, when the browser says where
the user came from, back to that page. None shows the exception's text: a refusal or a "no such
record" may name a username, an id or an MRN, and staff need none of it to go on. The 500 page
is Django's own view with `500.html`, which stands alone (no context, no database).
"""

from django.contrib import admin
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import requires_csrf_token

BAD_REQUEST = "The address or the form sent something this page cannot use. Nothing was read or changed."


def page(request, template: str, status: int, **context) -> HttpResponse:
    """Return `template` rendered in the admin's frame for `request`, with `status`."""
    frame = {
        "site_header": admin.site.site_header,
        "site_title": admin.site.site_title,
        "previous_url": previous_url(request),
    }
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        # The admin's own context: the user's links and the list of the apps they may open.
        frame.update(admin.site.each_context(request))
    return HttpResponse(render_to_string(template, {**frame, **context}, request), status=status)


def previous_url(request) -> str | None:
    """Return the page the user came from (the Referer), if it is one of this site's other pages."""
    referer = request.META.get("HTTP_REFERER", "")
    try:
        host = request.get_host()
    except DisallowedHost:
        return None
    if not referer or not url_has_allowed_host_and_scheme(referer, {host}, require_https=request.is_secure()):
        return None
    return None if referer == request.build_absolute_uri() else referer


@requires_csrf_token  # the admin's header holds the log-out form
def bad_request(request, exception=None, message: str = BAD_REQUEST):
    """Return the 400 page: `message` says what was wrong (never the exception's text)."""
    return page(request, "400.html", 400, title="Bad request", message=message)


@requires_csrf_token
def permission_denied(request, exception=None):
    """Return the 403 page."""
    return page(request, "403.html", 403, title="You may not open this page")


@requires_csrf_token
def page_not_found(request, exception=None):
    """Return the 404 page."""
    return page(request, "404.html", 404, title="Page not found")
