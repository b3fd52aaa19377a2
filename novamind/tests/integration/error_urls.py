"""The project's URLs plus views that fail in each way, for the error-page tests (pytest.mark.urls)."""

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404
from django.urls import path

from novamind import urls
from novamind.domain import AccessDenied

SECRET = "NM31415926"  # stands for whatever an exception's text names: it must never be shown


def refused_by_policy(request):
    raise AccessDenied(f"alice is not on the care team of {SECRET}.")


def refused_by_view(request):
    raise PermissionDenied(f"Only a superuser may change {SECRET}.")


def missing(request):
    raise Http404(f"No clinical note with ID {SECRET}.")


def suspicious(request):
    raise SuspiciousOperation(f"Forged value {SECRET}.")


def broken(request):
    raise RuntimeError(f"Decrypting {SECRET} failed.")


urlpatterns = [
    path("failing/refused-by-policy/", refused_by_policy),
    path("failing/refused-by-view/", refused_by_view),
    path("failing/missing/", missing),
    path("failing/suspicious/", suspicious),
    path("failing/broken/", broken),
    *urls.urlpatterns,
]

handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
