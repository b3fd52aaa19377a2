"""Garbage in an admin URL or form is a clear answer (400, an ignored value, a message), never a 500.

Walks every registered admin, so a new one is covered without a new test. Run on SQLite and on
PostgreSQL: PostgreSQL refuses a NUL byte in a string, SQLite does not.
"""

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import models as db_models
from django.urls import NoReverseMatch, reverse

from conftest import make_staff

pytestmark = pytest.mark.django_db

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def url_of(model_admin, page):
    opts = model_admin.model._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}")
    except NoReverseMatch:
        return None


def filter_names(model_admin):
    """Return the query parameters the changelist's filters use, and `status` (every app's)."""
    names = {"status", "q"}
    for spec in model_admin.list_filter:
        if isinstance(spec, str):
            names.add(f"{spec}__exact")
        elif isinstance(spec, tuple):
            names.add(f"{spec[0]}__gte")
        elif getattr(spec, "parameter_name", None):
            names.add(spec.parameter_name)
    return sorted(names)


@pytest.fixture
def root(db):
    return make_staff("root", superuser=True)


@pytest.fixture
def root_client(client, root):
    client.force_login(root)
    return client


def test_the_answer_is_a_400_page_saying_what_was_wrong(root_client):
    response = root_client.get(reverse("admin:patients_patient_changelist"), {"status": "\x00"})
    assert response.status_code == 400 and b"NUL" in response.content
    response = root_client.get(reverse("admin:patients_careassignment_add"), {"patient": "abc"})
    assert response.status_code == 400 and "“patient”".encode() in response.content
    response = root_client.post(
        reverse("admin:patients_patient_changelist"), {"action": "deactivate", ACTION_CHECKBOX_NAME: ["abc"]}
    )
    assert response.status_code == 400 and b"not a patient" in response.content


def test_a_well_formed_id_that_names_nothing_is_still_the_page_s_to_answer(root_client):
    url = reverse("admin:patients_careassignment_add")
    assert root_client.get(url, {"patient": "00000000-0000-0000-0000-000000000000"}).status_code == 200


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_a_nul_byte_in_a_changelist_filter_is_a_400_not_a_500(root_client, model, model_admin):
    url = url_of(model_admin, "changelist")
    for name in filter_names(model_admin):
        response = root_client.get(url, {name: "\x00"})
        assert response.status_code in (200, 302, 400), (name, response.status_code)


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_an_admin_action_on_garbage_ids_is_refused_not_a_500(root_client, root, rf, model, model_admin):
    url = url_of(model_admin, "changelist")
    request = rf.get(url)
    request.user = root
    for action in model_admin.get_actions(request):
        for garbage in ("abc", "\x00", "1" * 300):
            response = root_client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [garbage], "index": "0"})
            assert response.status_code in (200, 302, 400), (action, garbage, response.status_code)


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=[m._meta.label for m, _ in ADMINS])
def test_a_garbage_initial_value_on_an_add_page_is_ignored_not_a_500(root_client, model, model_admin):
    url = url_of(model_admin, "add")
    relations = [
        field.name
        for field in model._meta.get_fields()
        if isinstance(field, db_models.ForeignKey | db_models.ManyToManyField) and not field.auto_created
    ]
    for name in relations or ["patient"]:
        for garbage in ("abc", "\x00", "1,abc"):
            response = root_client.get(url, {name: garbage})
            assert response.status_code in (200, 302, 400, 403), (name, garbage, response.status_code)


@pytest.mark.parametrize(
    ("model_admin",),
    [(model_admin,) for model, model_admin in ADMINS if model_admin.autocomplete_fields],
    ids=lambda model_admin: model_admin.model._meta.label,
)
@pytest.mark.parametrize("value", ["abc", "-Infinity", "99999999999999999999999"])
def test_an_add_form_posted_with_a_picked_record_that_is_no_id_shows_the_error_next_to_it(
    root_client, model_admin, value
):
    url = url_of(model_admin, "add")
    name = model_admin.autocomplete_fields[0]
    before = model_admin.model._base_manager.count()
    response = root_client.post(url, {name: value})
    assert response.status_code == 200
    assert name in response.context["adminform"].form.errors
    assert model_admin.model._base_manager.count() == before


def test_a_search_longer_than_any_name_answers_400(root_client):
    response = root_client.get(reverse("admin:clinical_notes_clinicalnote_changelist"), {"q": "x" * 50_000})
    assert response.status_code == 400 and b"longer than 200 characters" in response.content
    assert root_client.get(reverse("admin:clinical_notes_clinicalnote_changelist"), {"q": "x" * 200}).status_code == 200
