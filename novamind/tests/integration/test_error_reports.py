"""Error pages, e-mailed error reports and logs carry no PHI: no request values, no local values, no SQL."""

import dataclasses
import logging

import pytest
from django.core import mail
from django.db import connection
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path

from novamind import security
from patients import models

pytestmark = pytest.mark.django_db

NAME = "Zebulon Quartermaine"
DIAGNOSIS = "xyzzy-diagnosis-marker"
SEARCH = "quillon-search-marker"
MARKERS = (NAME, DIAGNOSIS, SEARCH)


@dataclasses.dataclass
class Chart:
    name: str
    diagnosis: str


def failing_view(request):
    chart = Chart(name=request.POST.get("legal_name", ""), diagnosis=DIAGNOSIS)  # noqa: F841 (shown in frames)
    raise RuntimeError("the chart could not be saved")


def ok_view(request):
    return HttpResponse("ok")


urlpatterns = [path("fail/", failing_view), path("ok/", ok_view)]


def post_failing(client):
    return client.post(
        f"/fail/?q={SEARCH}",
        {"legal_name": NAME, "note": DIAGNOSIS},
        HTTP_REFERER=f"http://testserver/admin/patients/patient/?q={SEARCH}",
    )


def assert_no_phi(text):
    for marker in MARKERS:
        assert marker not in text


@override_settings(ROOT_URLCONF=__name__, DEBUG=True)
def test_the_debug_error_page_names_parameters_and_variables_but_shows_no_values():
    client = Client(raise_request_exception=False)
    response = post_failing(client)
    assert response.status_code == 500
    page = response.content.decode()
    assert "RuntimeError" in page and "the chart could not be saved" in page
    assert "legal_name" in page and "chart" in page and "&lt;Chart&gt;" in page  # names and types stay
    assert_no_phi(page)


@override_settings(ROOT_URLCONF=__name__, DEBUG=False, ADMINS=[("Ops", "ops@example.org")])
def test_the_error_report_mailed_to_admins_shows_no_request_or_local_values():
    client = Client(raise_request_exception=False)
    assert post_failing(client).status_code == 500
    assert len(mail.outbox) == 1
    report = mail.outbox[0]
    assert "RuntimeError" in report.body and "legal_name" in report.body
    assert_no_phi(report.subject + report.body)


def test_the_reporter_hides_get_values_files_cookies_and_the_query_string(rf):
    request = rf.post(f"/fail/?q={SEARCH}", {"legal_name": NAME}, HTTP_COOKIE=f"note={DIAGNOSIS}")
    try:
        failing_view(request)
    except RuntimeError as error:
        reporter = security.PHISafeExceptionReporter(request, type(error), error, error.__traceback__)
        assert_no_phi(reporter.get_traceback_text())
        assert_no_phi(reporter.get_traceback_html())


def test_sql_and_its_parameters_are_never_logged(caplog, staff):
    from novamind import audit

    with caplog.at_level(logging.DEBUG):
        connection.force_debug_cursor = True
        try:
            audit.audited_save(
                models.Patient(
                    legal_first_name=NAME.split()[0], legal_last_name=NAME.split()[1], date_of_birth="1980-01-01"
                ),
                actor=staff,
            )
            list(models.Patient.objects.filter(mrn=SEARCH))
        finally:
            connection.force_debug_cursor = False
    assert "SELECT" not in caplog.text.upper() and SEARCH not in caplog.text
    assert_no_phi(caplog.text)
    # And if someone lowers the level, the console handler still drops statement records.
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, security.DropSQLRecords) for f in handler.filters)
    )
    record = logging.LogRecord(
        "django.db.backends", logging.DEBUG, __file__, 1, "(%.3f) %s; args=%s", (0.1, "SELECT 1", (SEARCH,)), None
    )
    record.sql, record.params = "SELECT %s", (SEARCH,)
    assert not console.filter(record)


def test_runserver_request_lines_lose_their_query_string():
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /admin/patients/patient/?q={SEARCH} HTTP/1.1", "200", "1234"),
        None,
    )
    assert security.RedactQueryStrings().filter(record)
    assert record.getMessage() == '"GET /admin/patients/patient/?… HTTP/1.1" 200 1234'
