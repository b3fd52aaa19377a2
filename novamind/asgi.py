"""ASGI entry point. The system checks run first, in every mode: a wrong key stops the server.

A server runs no system checks of its own, so without this a wrong FIELD_ENCRYPTION_KEY in
development would serve, answer 503 on every list page, and refuse every form. Here the
key canary (novamind.E010) stops it before the first request, as `runserver` would; in
production so do missing or development keys, DEBUG and plaintext database links. A database
that cannot be reached is only a warning (novamind.W010): the server starts, and every encrypted
write checks the key again before it stores anything (novamind.encryption).
"""

import io
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
application = get_asgi_application()

from django.core.management import call_command  # noqa: E402

# Raises SystemCheckError, so the server never serves. Warnings go to stderr; the "no issues"
# line is left to runserver, which prints its own.
call_command("check", stdout=io.StringIO())
