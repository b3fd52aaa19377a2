"""Login lockout (django-axes): the page a locked-out sign-in gets.

django-axes counts failed sign-ins per username and address pair (`AXES_LOCKOUT_PARAMETERS`);
after `AXES_FAILURE_LIMIT` failures it refuses that pair, the right password included, for
`AXES_COOLOFF_TIME`. It records every attempt in its own tables (Axes › access attempts and
access logs in the admin, where a practice administrator can unlock an account by deleting
the attempt, or with `manage.py axes_reset_username USERNAME`).
"""

import logging

from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.contrib import admin
from django.shortcuts import render

logger = logging.getLogger("novamind.security")


def lockout_response(request, original_response=None, credentials=None):
    """Return the 429 page that says the sign-in is locked, and for how long."""
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    logger.warning(
        "Sign-in refused: locked out after %s failures (from %s)",
        get_failure_limit(request, credentials),
        request.META.get("REMOTE_ADDR"),
    )
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed sign-ins",
        "failure_limit": get_failure_limit(request, credentials),
        "minutes": minutes,
    }
    return render(request, "novamind/lockout.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
