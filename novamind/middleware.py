"""Turn a stored value that does not decrypt into a clear 503 page instead of a crash page."""

import logging

from django.http import HttpResponse

from novamind.encryption import DecryptionError

logger = logging.getLogger("novamind.encryption")

MESSAGE = (
    "<h1>Encrypted data cannot be read</h1><p>This server's encryption key does not match the "
    "data in its database. Nothing was changed. Ask the operator to restore the correct "
    "FIELD_ENCRYPTION_KEY (see <code>manage.py check</code>).</p>"
)


class DecryptionErrorMiddleware:
    """Answer 503 when a view meets a value that does not decrypt under the configured key."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, DecryptionError):
            logger.error("Refused %s %s: stored data does not decrypt with the configured key", request.method, request.path)
            return HttpResponse(MESSAGE, status=503)
        return None
