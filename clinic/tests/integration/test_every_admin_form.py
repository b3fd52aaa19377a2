"""Every add and change form of the admin, as a superuser opens and posts it in a browser.

The forms are found in `admin.site._registry`, so a form registered tomorrow is covered too:

- no form shows the optimistic-lock `version` as an input staff can edit (it travels hidden);
- a date no calendar has ("13/45/1990") is one error next to its field, not also "required";
- posting a change form back unchanged writes nothing: no version, no history row, no admin-log
  entry, no new "last changed";
- no text staff read (a field's label or help) names a setting (`NOVAMIND_…`).

The clinic is walk_support's, built once for the module and rolled back after it.
"""

from __future__ import annotations

import html.parser

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from clinic.tests.integration import walk_support as walk
from novamind.admin import AuditedAdmin

ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
ADMIN_IDS = [model._meta.label_lower for model, _ in ADMINS]
NO_SUCH_DATE = "13/45/1990"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Return the walked clinic, rolled back after the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield walk.build_clinic()
        transaction.set_rollback(True)


@pytest.fixture
def root_client(clinic, db):
    client = Client()
    client.force_login(clinic.users[walk.SUPERUSER])
    return client


def _request(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def _url(model, page, *args):
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)
    except NoReverseMatch:
        return None


def _changeable(model_admin, user):
    """Return a record the user may change on its admin page, or None."""
    request = _request(user)
    for obj in model_admin.get_queryset(request)[:20]:
        if model_admin.has_change_permission(request, obj):
            return obj
    return None


def _any(model_admin, user):
    """Return a record the user may open on its admin page, or None."""
    return model_admin.get_queryset(_request(user)).first()


class FormReader(html.parser.HTMLParser):
    """Read the main form of an admin page as a browser would submit it, and its inputs' tags."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.data: dict[str, list[str]] = {}
        self.inputs: list[dict[str, str]] = []
        self._select: str | None = None
        self._select_values: list[str] = []
        self._select_first: str | None = None
        self._option: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        name = attrs.get("name", "")
        if tag == "input":
            self.inputs.append(attrs)
            kind = attrs.get("type", "text")
            if not name or kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.data.setdefault(name, []).append(attrs.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self._select, self._select_values, self._select_first = name, [], None
            self.inputs.append({**attrs, "type": "select"})
        elif tag == "option" and self._select is not None:
            value = attrs.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in attrs:
                self._select_values.append(value)
        elif tag == "textarea":
            self._textarea, self._text = name, ""
            self.inputs.append({**attrs, "type": "textarea"})

    def handle_data(self, data):
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag):
        if not self.inside:
            return
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            values = self._select_values or ([self._select_first] if self._select_first is not None else [])
            if self._select and values:
                self.data.setdefault(self._select, []).extend(values)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # The HTML parser keeps the newline Django writes after <textarea>; a browser drops it.
            self.data.setdefault(self._textarea, []).append(self._text.removeprefix("\n"))
            self._textarea = None


def read_form(response, model) -> FormReader:
    reader = FormReader(f"{model._meta.model_name}_form")
    reader.feed(response.content.decode())
    assert reader.data or reader.inputs, f"no form #{model._meta.model_name}_form on the page"
    return reader


def visible_version_inputs(reader: FormReader) -> list[str]:
    """Return the tags of the form's inputs for a version that are not hidden.

    (Django's fieldset still writes a hidden input's label, in a row it hides with it.)
    """
    found = []
    for attrs in reader.inputs:
        name = attrs.get("name", "")
        if (name == "version" or name.endswith("-version")) and attrs.get("type") != "hidden":
            found.append(str(attrs))
    return found


# --- The version is never an input staff can edit ----------------------------------------------


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=ADMIN_IDS)
def test_no_add_or_change_form_shows_the_version_as_an_editable_field(clinic, root_client, model, model_admin):
    root = clinic.users[walk.SUPERUSER]
    pages = []
    if model_admin.has_add_permission(_request(root)) and _url(model, "add"):
        pages.append(_url(model, "add"))
    obj = _any(model_admin, root)
    if obj is not None and _url(model, "change", obj.pk):
        pages.append(_url(model, "change", obj.pk))
    if not pages:
        pytest.skip(f"{model._meta.label} has neither an add page nor a record to open")
    for url in pages:
        response = root_client.get(url)
        if response.status_code == 302:
            continue  # an add page that leads elsewhere (the series planner)
        assert response.status_code == 200, url
        assert visible_version_inputs(read_form(response, model)) == [], url


# --- An impossible date is one error, not also "required" ---------------------------------------


def _date_fields(form) -> list[tuple[str, str]]:
    """Return (field, posted name) of every date the form asks for, the date half of a date-and-time too."""
    found = []
    for name, field in form.fields.items():
        widget = field.widget
        subwidgets = getattr(widget, "widgets", None)
        if subwidgets:
            for index, subwidget in enumerate(subwidgets):
                if isinstance(subwidget, forms.DateInput):
                    found.append((name, form.add_prefix(f"{name}_{index}")))
        elif isinstance(widget, forms.DateInput):
            found.append((name, form.add_prefix(name)))
    return found


@pytest.mark.parametrize("model, model_admin", ADMINS, ids=ADMIN_IDS)
def test_an_impossible_date_is_reported_once_next_to_its_field(clinic, root_client, model, model_admin):
    root = clinic.users[walk.SUPERUSER]
    pages = []
    if model_admin.has_add_permission(_request(root)) and _url(model, "add"):
        pages.append(_url(model, "add"))
    obj = _changeable(model_admin, root)
    if obj is not None:
        pages.append(_url(model, "change", obj.pk))
    checked = 0
    for url in pages:
        page = root_client.get(url)
        if page.status_code != 200:
            continue  # an add page that leads elsewhere (the series planner)
        form = page.context["adminform"].form
        data = read_form(page, model).data
        for field, posted in _date_fields(form):
            response = root_client.post(url, {**data, posted: NO_SUCH_DATE})
            assert response.status_code == 200, f"{url}: {posted}={NO_SUCH_DATE} was accepted"
            errors = response.context["adminform"].form.errors.get(field, [])
            assert len(errors) == 1, f"{url}: {field} shows {list(errors)}"
            checked += 1
    if not checked:
        pytest.skip(f"{model._meta.label} has no date field on a form the superuser may post")


# --- Saving without changes writes nothing ------------------------------------------------------

AUDITED = [(model, model_admin) for model, model_admin in ADMINS if isinstance(model_admin, AuditedAdmin)]


def _footprint(model, obj):
    row = model._base_manager.filter(pk=obj.pk).values("version", "updated_at", "updated_by").get()
    return row, model.history.filter(id=obj.pk).count(), LogEntry.objects.count()


@pytest.mark.parametrize("model, model_admin", AUDITED, ids=[model._meta.label_lower for model, _ in AUDITED])
def test_saving_a_change_form_without_changes_writes_nothing(clinic, root_client, model, model_admin):
    obj = _changeable(model_admin, clinic.users[walk.SUPERUSER])
    if obj is None:
        pytest.skip(f"{model._meta.label} records are never changed on their admin page")
    url = _url(model, "change", obj.pk)
    before = _footprint(model, obj)
    response = root_client.post(url, read_form(root_client.get(url), model).data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    assert _footprint(model, obj) == before


def test_a_change_form_saved_with_a_change_still_writes_it(clinic, root_client):
    from patients import models as patients_models

    patient = patients_models.Patient.objects.get(pk=clinic.patients[walk.INSIDE].patient.id)
    url = _url(patients_models.Patient, "change", patient.pk)
    data = read_form(root_client.get(url), patients_models.Patient).data
    response = root_client.post(url, {**data, "pronouns": ["they/them"]})
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.pronouns == "they/them" and patient.version == 2
    assert patient.history.first().history_change_reason == "Details changed"


# --- No setting name in what staff read ---------------------------------------------------------


def test_no_label_or_help_text_names_a_setting():
    leaks = [
        f"{model._meta.label}.{field.name}: {text}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        for text in (str(getattr(field, "help_text", "")), str(getattr(field, "verbose_name", "")))
        if "NOVAMIND_" in text
    ]
    assert leaks == []
