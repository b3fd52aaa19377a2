"""Every admin list and history page costs the same number of queries whatever the rows it shows.

A query per row shown is invisible on a page of a few rows and ruinous on a page of a hundred,
and `make bench` measures only the pages it names. This test covers every page the admin site
registers (`admin.site._registry`, so a new admin is covered the day it is registered): its
changelist with two rows per page against the same list at its own page size, and, for an
audited model, the `history/` page of one record with two history rows against the same page
with twenty. The query counts must be equal. Each page is walked as a superuser and, where the
list is care-filtered (patients.policy), as a clinician whose care team holds the rows.

The clinic is built once for the module (walk_support's, plus ten patients' worth of records
of every kind, through the services); each test runs in its own rolled-back transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from appointments import domain as appointments_domain
from appointments import models as appointments_models
from appointments import services as appointments_services
from clinic.tests.integration import walk_support as walk
from clinical_notes import domain as notes_domain
from clinical_notes import services as notes_services
from clinical_notes.tests import factories
from conftest import assign_care
from medications import domain as medications_domain
from medications import services as medications_services
from novamind import audit, roles
from patients import domain as patients_domain
from patients import models as patients_models
from patients import policy
from patients import repository as patients_repository
from patients import services as patients_services

SMALL_PAGE = 2
ENOUGH = SMALL_PAGE + 3  # the full page must show at least this many rows, or the comparison proves nothing
EXTRA_PATIENTS = 10
SMALL_HISTORY, LARGE_HISTORY = 2, 20
SUPERUSER, CLINICIAN = "superuser", "care-restricted clinician"
# The care role walked: it may open every clinical list a care role may open.
CARE_ROLE = roles.PRESCRIBER


def _about_patients(model) -> bool:
    """Return whether the model's rows are some patient's records (its lists are care-filtered)."""
    if model is patients_models.Patient:
        return True
    for field in model._meta.concrete_fields:
        target = field.related_model
        if target is patients_models.Patient:
            return True
        if (
            target is not None
            and target is not model
            and any(
                getattr(inner, "related_model", None) is patients_models.Patient
                for inner in target._meta.concrete_fields
            )
        ):
            return True
    return False


def _care_role_views(model) -> bool:
    return roles.VIEW in roles.MATRIX[CARE_ROLE].grants.get(model._meta.label_lower, ())


def _viewers(model) -> list[str]:
    return [SUPERUSER, CLINICIAN] if _about_patients(model) and _care_role_views(model) else [SUPERUSER]


ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
LIST_CASES = [
    pytest.param(model_admin, viewer, id=f"{model._meta.label_lower}-{viewer}")
    for model, model_admin in ADMINS
    for viewer in _viewers(model)
]
HISTORY_CASES = [
    pytest.param(model_admin, viewer, id=f"{model._meta.label_lower}-{viewer}")
    for model, model_admin in ADMINS
    if isinstance(model_admin, SimpleHistoryAdmin) and hasattr(model, "history")
    for viewer in _viewers(model)
]


# --- the clinic ---------------------------------------------------------------------------------


def _more_records(root, clinic, number: int) -> None:
    """Add one more patient in the walked clinicians' care, with records of every kind."""
    prescriber = clinic.users[CARE_ROLE]
    clinical = [clinic.users[role] for role in (*walk.CLINICAL, walk.DESK_AND_CLINICIAN)]
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(
            legal_first_name="Flatfirst", legal_last_name=f"Flat{number}", date_of_birth=dt.date(1970, 1, 1 + number)
        )
    )
    for clinician in clinical:
        assign_care(patient, clinician, by=root)
    # Today, one an hour: the appointment list opens on today's appointments.
    appointment = appointments_services.appointment_book(
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=prescriber.pk,
            start=walk.local(0, 8 + number),
            end=walk.local(0, 8 + number) + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
            reason_for_visit="follow-up",
        ),
        actor=root,
    )
    if number % 3 == 0:
        appointments_services.appointment_cancel(
            appointment_id=appointment.id,
            by=appointments_domain.CancelledBy.PATIENT,
            reason="Unwell",
            actor=root,
        )
    # Weekly pairs: within each half of the patients the days differ by less than a week.
    start = walk.local(5 + number, 15 if number < EXTRA_PATIENTS // 2 else 17)
    appointments_services.series_book(
        actor=root,
        series=appointments_domain.Series(
            patient_id=patient.id,
            clinician_id=prescriber.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            count=2,
            modality=appointments_domain.Modality.TELEHEALTH,
        ),
    )
    factories.signed(prescriber, patient)
    factories.drafted(prescriber, patient, days_ago=number)
    therapy = factories.signed(
        prescriber,
        patient,
        kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE,
        format=notes_domain.NoteFormat.FREE_TEXT,
        sections=notes_domain.Sections(body="Private process notes."),
    )
    notes_services.authorization_grant(
        note_id=therapy.id,
        grantee=clinic.visitor,
        reason="Consultation with a colleague on the treatment plan.",
        expires_at=timezone.now() + dt.timedelta(days=7),
        actor=prescriber,
    )
    order = medications_services.order_prescribe(order=walk._order(patient.id), actor=prescriber)
    if number % 2 == 0:  # a revised order: the list shows both, linked
        medications_services.order_revise(
            order=dataclasses.replace(order, dose_amount=order.dose_amount * 2, strength="100 mg"), actor=prescriber
        )
    medications_services.allergy_add(
        allergy=medications_domain.Allergy(patient_id=patient.id, substance=f"substance {number}", reaction="rash"),
        actor=prescriber,
    )
    patients_services.emergency_access_grant(patient_id=patient.id, reason=walk.REASON, actor=clinic.visitor)


def _more_global_rows(root, clinic) -> None:
    """Add rows to the lists that are about no patient (rooms, sign-in records, devices, groups)."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    for number in range(ENOUGH):
        audit.audited_save(appointments_models.Room(name=f"Flat room {number}"), actor=root)
        address = f"10.0.1.{number}"
        AccessAttempt.objects.create(username=f"flat-{number}", ip_address=address, failures_since_start=1)
        AccessLog.objects.create(username=f"flat-{number}", ip_address=address)
        AccessFailureLog.objects.create(username=f"flat-{number}", ip_address=address)
        Group.objects.get_or_create(name=f"Flat group {number}")
    for user in list(clinic.users.values())[:ENOUGH]:
        TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
        StaticDevice.objects.create(user=user, name="backup", confirmed=True)


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    """Return the walked clinic with ten more patients' records, rolled back after the module."""
    with django_db_blocker.unblock(), transaction.atomic():
        clinic = walk.build_clinic()
        root = clinic.users[walk.SUPERUSER]
        for number in range(EXTRA_PATIENTS):
            _more_records(root, clinic, number)
        _more_global_rows(root, clinic)
        yield clinic
        transaction.set_rollback(True)


def _user(clinic, viewer):
    user = clinic.users[walk.SUPERUSER if viewer == SUPERUSER else CARE_ROLE]
    assert policy.is_restricted(user) == (viewer == CLINICIAN)
    return user


def _counted_get(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response, [query["sql"] for query in queries.captured_queries]


def _shape(sql: str) -> str:
    return re.sub(r"'[^']*'|\"s\d+_x\d+\"|\b\d+\b", "?", sql)[:160]


def _difference(small: list[str], large: list[str]) -> str:
    """Return the queries the larger page ran more often, by shape, with how many more times."""
    more = Counter(map(_shape, large)) - Counter(map(_shape, small))
    return "\n".join(f"{count} x {shape}" for shape, count in more.most_common())


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("model_admin", "viewer"), LIST_CASES)
def test_a_changelist_costs_the_same_queries_for_two_rows_as_for_a_full_page(clinic, model_admin, viewer, monkeypatch):
    opts = model_admin.model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    client = Client()
    client.force_login(_user(clinic, viewer))
    client.get(url)  # the first request fills the per-process caches (content types, sites)

    monkeypatch.setattr(model_admin, "list_per_page", SMALL_PAGE)
    small, small_queries = _counted_get(client, url)
    monkeypatch.undo()
    full, full_queries = _counted_get(client, url)

    shown = len(full.context["cl"].result_list)
    assert len(small.context["cl"].result_list) == SMALL_PAGE
    assert shown >= ENOUGH, f"the full page shows {shown} rows: give the clinic more {opts.verbose_name_plural}"
    assert len(full_queries) == len(small_queries), (
        f"{SMALL_PAGE} rows: {len(small_queries)} queries; {shown} rows: {len(full_queries)} queries. "
        f"Queries the full page added:\n{_difference(small_queries, full_queries)}"
    )


def _visible_object(model_admin, user):
    request = RequestFactory().get("/")
    request.user = user
    return model_admin.get_queryset(request).order_by("pk").first()


def _grow_history(obj, rows: int) -> None:
    """Give `obj` `rows` history rows, copies of its latest one (unsealed: this test reads them only)."""
    history = obj.history.all()
    latest = history.order_by("-history_id").first()
    missing = rows - history.count()
    copies = []
    for number in range(missing):
        copy = type(latest).objects.get(pk=latest.pk)
        copy.history_id = None
        copy.history_sequence = None
        copy.history_digest = ""
        copy.history_type = "~"
        copy.version = latest.version + number + 1
        copies.append(copy)
    type(latest).objects.bulk_create(copies)


@pytest.mark.django_db
@pytest.mark.parametrize(("model_admin", "viewer"), HISTORY_CASES)
def test_a_history_page_costs_the_same_queries_for_two_entries_as_for_twenty(clinic, model_admin, viewer):
    user = _user(clinic, viewer)
    obj = _visible_object(model_admin, user)
    assert obj is not None, f"the clinic has no {model_admin.model._meta.verbose_name} this user may see"
    opts = model_admin.model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_history", args=[obj.pk])
    client = Client()
    client.force_login(user)
    client.get(url)

    _grow_history(obj, SMALL_HISTORY)
    small, small_queries = _counted_get(client, url)
    _grow_history(obj, LARGE_HISTORY)
    large, large_queries = _counted_get(client, url)

    assert len(small.context["page_obj"].object_list) == SMALL_HISTORY
    assert len(large.context["page_obj"].object_list) == LARGE_HISTORY
    assert len(large_queries) == len(small_queries), (
        f"{SMALL_HISTORY} entries: {len(small_queries)} queries; {LARGE_HISTORY}: {len(large_queries)}. "
        f"Queries the longer history added:\n{_difference(small_queries, large_queries)}"
    )


@pytest.mark.django_db
def test_a_list_past_its_count_cap_says_more_than_and_logs_it(clinic, monkeypatch):
    from novamind.admin import CappedCountPaginator
    from novamind.models import AccessLogEntry

    monkeypatch.setattr(CappedCountPaginator, "cap", 3)
    client = Client()
    client.force_login(_user(clinic, SUPERUSER))
    response = client.get(reverse("admin:clinical_notes_clinicalnote_changelist"))

    assert response.context["cl"].paginator.capped
    assert "more than 3 clinical notes" in response.content.decode()
    detail = AccessLogEntry.objects.order_by("-sequence").first().detail
    # The page names its patients (patients.display), and its entry says how many.
    assert re.fullmatch(r"more than 3 result\(s\), page 1, \d+ patient name\(s\) shown", detail), detail
