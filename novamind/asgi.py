"""ASGI entry point. In production the system checks run first: a bad key stops the server."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
application = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.PRODUCTION:
    from django.core.management import call_command  # noqa: E402

    call_command("check")  # raises SystemCheckError, so the server never serves
