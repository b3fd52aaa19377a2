"""Generated bad input to every diagnosis form and to the code search: never a server error, nothing half-saved.

The clinic-wide fuzz (clinic/tests/integration/test_admin_fuzz.py) covers the forms it names; these
are the diagnosis pages', with the same values, budget and checks.
"""

import logging

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from clinic.tests.integration import walk_support as walk
from clinic.tests.integration.test_admin_fuzz import FUZZ, check, send, values
from clinic.tests.integration.test_every_admin_url import add_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    """The walked clinic (a diagnosis per patient), with the request log silenced."""
    logging.disable(logging.WARNING)
    yield walk.build_clinic()
    logging.disable(logging.NOTSET)


@pytest.fixture
def admin_client(clinic):
    client = Client()
    client.force_login(clinic.users[walk.SUPERUSER])
    return client


def forms(clinic) -> list[tuple[str, str, dict]]:
    """Return (name, url, valid body) of every diagnosis form, on the inside patient's diagnosis."""
    records = clinic.patients[walk.INSIDE]
    diagnosis = records.ids["diagnosis"]
    return [
        (
            "add",
            reverse("admin:diagnoses_diagnosis_add"),
            add_body("diagnoses_diagnosis_add", clinic.users[walk.SUPERUSER], clinic, records),
        ),
        (
            "change",
            reverse("admin:diagnoses_diagnosis_change", args=[diagnosis]),
            {"specifier": "worse in winter", "onset_date": "2024-01-02", "version": "1"},
        ),
        (
            "status",
            reverse("admin:diagnoses_diagnosis_status", args=[diagnosis]),
            {"status": "resolved", "status_since": walk.local(0, 9).date().isoformat(), "version": "1"},
        ),
        ("make primary", reverse("admin:diagnoses_diagnosis_make_primary", args=[diagnosis]), {"version": "1"}),
    ]


@FUZZ
@given(data=st.data())
def test_a_generated_value_in_any_diagnosis_form_never_causes_a_server_error_or_a_partial_write(
    admin_client, clinic, data
):
    name, url, body = data.draw(st.sampled_from(forms(clinic)), label="form")
    field = data.draw(st.sampled_from(sorted({*body, "code", "is_primary", "version"})), label="field")
    value = data.draw(values, label="value")
    check(*send(admin_client, "POST", url, {**body, field: value}), f"POST {name} {field}={value[:40]!r}")


@FUZZ
@given(data=st.data())
def test_a_generated_search_or_list_parameter_never_causes_a_server_error(admin_client, clinic, data):
    page = data.draw(st.sampled_from(["code_autocomplete", "changelist"]), label="page")
    parameter = data.draw(st.sampled_from(["term", "page", "q", "o", "status", "is_primary", "p"]), label="parameter")
    value = data.draw(values, label="value")
    check(
        *send(admin_client, "GET", reverse(f"admin:diagnoses_diagnosis_{page}"), {parameter: value}),
        f"GET {page}?{parameter}={value[:40]!r}",
    )
