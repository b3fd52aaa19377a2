"""Bad input to every measures form: a clear error next to the field, never a server error, nothing half-saved."""

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from assessments import models
from assessments.tests import builders
from clinic.tests.integration import walk_support as walk

pytestmark = pytest.mark.django_db

NASTY = [
    "",
    "\x00",
    "abc",
    "-1",
    "4",
    "9" * 40,
    "0001-01-01",
    "9999-12-31",
    "x" * 100_000,
    "00000000-0000-0000-0000-000000000000",
]


@pytest.fixture
def setting(clinic):
    builders.record(clinic.drpatel, clinic.patient.id, total=12, item9=1)
    response = models.Response.objects.get()
    alert = models.SafetyAlert.objects.get()
    client = Client()
    client.force_login(clinic.drpatel)
    valid_add = builders.form_data(clinic.patient.id, builders.phq9_answers(total=8))
    return client, {
        "add": (reverse("admin:assessments_response_add"), valid_add),
        "change": (
            reverse("admin:assessments_response_change", args=[response.pk]),
            {**valid_add, "reason_for_correction": "Misread."},
        ),
        "void": (
            reverse("admin:assessments_response_void", args=[response.pk]),
            {"void_reason": "Twice.", "version": "1"},
        ),
        "review": (
            reverse("admin:assessments_safetyalert_review", args=[alert.pk]),
            {"action_taken": "Called the patient: safe, plan agreed.", "version": "1"},
        ),
    }


def send(client, url, data):
    with transaction.atomic():
        before = walk.fingerprint()
        try:
            with transaction.atomic():
                status = client.post(url, data).status_code
        except Exception as error:  # noqa: BLE001 - what the test reports
            status = f"{type(error).__name__}: {str(error)[:120]}"
        wrote = walk.written(before, walk.fingerprint())
        transaction.set_rollback(True)
    return status, wrote


@pytest.mark.parametrize("form", ["add", "change", "void", "review"])
def test_a_bad_value_in_any_field_is_never_a_server_error_or_a_partial_write(setting, form):
    client, forms = setting
    url, valid = forms[form]
    problems = []
    for field in sorted({*valid, "patient", "version"}):
        for value in NASTY:
            status, wrote = send(client, url, {**valid, field: value})
            if not isinstance(status, int) or status >= 500:
                problems.append(f"{field}={value[:20]!r}: {status}")
            elif status != 302 and wrote:
                problems.append(f"{field}={value[:20]!r}: answered {status} but wrote {wrote}")
    assert not problems, "\n".join(problems)
