"""Every URL of the admin × every role × a patient inside and outside care × GET and POST.

The URLs are enumerated from the URLconf, so a new view fails `test_every_url_pattern_is_classified`
until it is added to RULES, the one table that says, for each URL, which permission it needs and
whether it is about one patient's record. The expectation of each request follows from that
table and the policy (patients.policy): allowed (2xx/3xx), refused for the role (403, or 404),
outside the user's care (404; the patient page answers 403 with the break-the-glass page), a
form error for an add form naming a patient outside care; never a 500, and a refused POST writes
nothing. All mismatches are reported in one assertion.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from clinic.tests.integration import walk_support as walk
from novamind import roles
from patients import policy

pytestmark = pytest.mark.django_db

# --- the classification -------------------------------------------------------------------------

# Scopes: what a URL is about, which decides how care applies.
RECORD = "one patient's record"  # path names a record of one patient: outside care → 404
PATIENT_PAGE = "the patient page"  # outside care → 403, the break-the-glass page
EMERGENCY = "break the glass"  # offered only to a care role, only for a patient outside care
ADD_FOR = "add form naming a patient"  # outside care → a form error next to the patient, no save
LIST = "a list of several patients' rows"  # a restricted user sees none of the outside patient
GLOBAL = "about no patient"
SESSION = "signing in and out"  # any answer but a server error; POST not walked (it ends the session)

ANY = "any staff member"
NOBODY = "nobody (the admin refuses it)"
SUPER = "superusers only"


@dataclasses.dataclass(frozen=True)
class Rule:
    """What one URL needs: a permission (any of several) and what it is about."""

    perm: str | tuple[str, ...] | Callable
    scope: str
    obj: str | None = None  # the record (walk.Records.ids key) or global object filling the path
    history: str | None = None  # the model label whose history row fills a history-form URL
    get_not_allowed: bool = False  # a POST-only view: GET answers 405
    action: str | None = None  # a list action to POST on the record `obj`
    query: Callable | None = None  # GET parameters of a list: function of (clinic, records)
    inside: str | None = None  # "any": who may act inside care depends on more than the role (authorship…)
    post_perm: str | tuple[str, ...] | None = None  # what a POST needs, when more than a GET
    methods: tuple[str, ...] = ("GET", "POST")
    body: dict | None = None  # the minimal POST body


def view_or_change(label):
    app, model = label.split(".")
    return (f"{app}.view_{model}", f"{app}.change_{model}")


def model_rules(
    label,
    scope,
    obj,
    *,
    add=None,
    delete=NOBODY,
    action=None,
    history_model=None,
    add_scope=None,
    change=None,
    action_perm=None,
):
    """Return the rules of a model admin's own URLs (list, add, change, history, delete, redirect).

    `change` is what saving the change form needs (default the change permission; NOBODY for a
    read-only record whose changes go through actions or workflow pages).
    """
    app, model = label.split(".")
    prefix = f"{app}_{model}"
    seen = view_or_change(label)
    change = change or f"{app}.change_{model}"
    list_scope = LIST if scope in (RECORD, PATIENT_PAGE) else GLOBAL
    rules = {
        f"{prefix}_changelist": Rule(
            seen,
            list_scope,
            obj=obj,
            action=action,
            post_perm=(action_perm or f"{app}.change_{model}") if action else None,
        ),
        f"{prefix}_add": Rule(add or f"{app}.add_{model}", add_scope or GLOBAL),
        f"{prefix}_change": Rule(seen, scope, obj, post_perm=change),
        f"{prefix}_history": Rule(seen, RECORD if scope == PATIENT_PAGE else scope, obj),
        f"{prefix}_delete": Rule(delete, RECORD if scope == PATIENT_PAGE else scope, obj),
        f"admin/{app}/{model}/<path:object_id>/": Rule(ANY, SESSION, obj),  # redirects to the change page
    }
    if history_model:
        rules[f"{prefix}_simple_history"] = Rule(
            seen, RECORD if scope == PATIENT_PAGE else scope, obj, history=history_model, post_perm=change
        )
    return rules


def day_sheet_query(clinic, records):
    start = timezone.localtime(
        __import__("appointments.models", fromlist=["Appointment"])
        .Appointment.objects.get(pk=records.ids["appointment"])
        .start
    )
    return {"clinician": str(clinic.other.pk), "date": start.date().isoformat()}


def free_slots_query(clinic, records):
    return {"patient": str(records.ids["patient"])}


def code_query(clinic, records):
    return {"term": "major depressive"}


def autocomplete_query(clinic, records):
    return {"app_label": "appointments", "model_name": "appointment", "field_name": "patient", "term": records.mrn}


RULES: dict[str, Rule] = {
    # Signing in and out, the site's own pages.
    "": Rule(ANY, SESSION),
    "two-factor-verify": Rule(ANY, SESSION),
    "two-factor-enrol": Rule(ANY, SESSION),
    "password-change": Rule(ANY, SESSION),
    "login": Rule(ANY, SESSION),
    "logout": Rule(ANY, SESSION),
    "password_change": Rule(ANY, SESSION),
    "password_change_done": Rule(ANY, SESSION),
    "jsi18n": Rule(ANY, SESSION),
    "view_on_site": Rule(ANY, SESSION),
    "admin/(?P<url>.*)$": Rule(ANY, SESSION),
    "index": Rule(ANY, LIST),  # the dashboard
    "app_list": Rule(ANY, SESSION),  # names the models a user may open: 200, or 404 when none
    "autocomplete": Rule("patients.view_patient", LIST, query=autocomplete_query, methods=("GET",)),
    # The patient picker's own autocomplete, which names the patients it finds (patients.display).
    "patients_patient_autocomplete": Rule("patients.view_patient", LIST, query=autocomplete_query, methods=("GET",)),
    # Staff accounts and sign-in records: no patient.
    **model_rules("auth.group", GLOBAL, "group", delete="auth.delete_group"),
    **model_rules("auth.user", GLOBAL, "user"),  # staff accounts are deactivated, never deleted
    "auth_user_password_change": Rule("auth.change_user", GLOBAL, "user"),
    # The walked profile is a clinician's: only a superuser changes it (novamind.staff).
    **model_rules("novamind.staffprofile", GLOBAL, "staffprofile", history_model="novamind.staffprofile", change=SUPER),
    # Sign-in records are read-only to the roles; deleting a lockout unlocks the account.
    **model_rules(
        "axes.accessattempt", GLOBAL, "accessattempt", add=NOBODY, change=SUPER, delete="axes.delete_accessattempt"
    ),
    **model_rules("axes.accesslog", GLOBAL, "accesslog", add=NOBODY, change=SUPER, delete="axes.delete_accesslog"),
    **model_rules(
        "axes.accessfailurelog",
        GLOBAL,
        "accessfailurelog",
        add=NOBODY,
        change=SUPER,
        delete="axes.delete_accessfailurelog",
    ),
    **model_rules("otp_totp.totpdevice", GLOBAL, "totpdevice", delete="otp_totp.delete_totpdevice"),
    # OTP_ADMIN_HIDE_SENSITIVE_DATA: a stored secret is never shown again, to anyone.
    "otp_totp_totpdevice_config": Rule(NOBODY, GLOBAL, "totpdevice"),
    "otp_totp_totpdevice_qrcode": Rule(NOBODY, GLOBAL, "totpdevice"),
    **model_rules("otp_static.staticdevice", GLOBAL, "staticdevice", delete="otp_static.delete_staticdevice"),
    **model_rules("appointments.room", GLOBAL, "room", history_model="appointments.room"),
    **model_rules("novamind.accesslogentry", GLOBAL, "accesslogentry", add=NOBODY, change=NOBODY),
    "novamind_accesslogentry_report": Rule("novamind.view_audit_report", GLOBAL),
    # Patients.
    **model_rules("patients.patient", PATIENT_PAGE, "patient", history_model="patients.patient"),
    "patients_patient_emergency_access": Rule(ANY, EMERGENCY, "patient"),
    **model_rules(
        "patients.emergencyaccessgrant",
        RECORD,
        "grant",
        add=NOBODY,
        change=NOBODY,
        history_model="patients.emergencyaccessgrant",
    ),
    **model_rules(
        "patients.careassignment",
        RECORD,
        "careassignment",
        action="end_care",
        add_scope=ADD_FOR,
        add=policy.may_assign_care,  # the front desk and superusers; never a user in a care role
        action_perm=policy.may_assign_care,
        change=NOBODY,  # care ends with the "End care" action
        history_model="patients.careassignment",
    ),
    # Appointments.
    **model_rules(
        "appointments.appointment",
        RECORD,
        "appointment",
        action="check_in_selected",
        add_scope=ADD_FOR,
        history_model="appointments.appointment",
    ),
    "appointments_appointment_day": Rule(
        view_or_change("appointments.appointment"), LIST, obj="appointment", query=day_sheet_query
    ),
    # The free-slot finder (only who may book; a patient outside care is an error next to the field)
    # and a clinician's week (a patient outside care is "busy", without MRN, link or id).
    "appointments_appointment_free_slots": Rule("appointments.add_appointment", LIST, query=free_slots_query),
    "appointments_appointment_week": Rule(
        view_or_change("appointments.appointment"), LIST, obj="appointment", query=day_sheet_query
    ),
    # The clinician pickers' search: staff names only, for whoever may see the schedule.
    "appointments_clinician_search": Rule(view_or_change("appointments.appointment"), GLOBAL, methods=("GET",)),
    "appointments_appointment_transition": Rule(
        "appointments.change_appointment",
        RECORD,
        "appointment",
        get_not_allowed=True,
        body={"action": "check_in", "version": "1"},
    ),
    "appointments_appointment_cancel": Rule("appointments.change_appointment", RECORD, "appointment"),
    "appointments_appointment_reschedule": Rule("appointments.change_appointment", RECORD, "appointment"),
    **model_rules(
        "appointments.appointmentseries",
        RECORD,
        "series",
        history_model="appointments.appointmentseries",
        change=NOBODY,  # a booked series changes through its appointments
    ),
    "appointments_appointmentseries_add": Rule(ANY, GLOBAL),  # redirects to plan/, which decides
    "appointments_appointmentseries_plan": Rule("appointments.add_appointmentseries", ADD_FOR),
    # Diagnoses: status and primary change on their own pages; the code autocomplete reads the code set only.
    **model_rules(
        "diagnoses.diagnosis",
        RECORD,
        "diagnosis",
        add_scope=ADD_FOR,
        history_model="diagnoses.diagnosis",
    ),
    "diagnoses_diagnosis_code_autocomplete": Rule(
        "diagnoses.view_diagnosis", GLOBAL, query=code_query, methods=("GET",)
    ),
    "diagnoses_diagnosis_status": Rule("diagnoses.change_diagnosis", RECORD, "diagnosis"),
    "diagnoses_diagnosis_make_primary": Rule(
        "diagnoses.change_diagnosis", RECORD, "diagnosis", get_not_allowed=True, body={"version": "1"}
    ),
    # Clinical notes.
    **model_rules(
        "clinical_notes.clinicalnote",
        RECORD,
        "note",
        action="sign_selected",
        add_scope=ADD_FOR,
        history_model="clinical_notes.clinicalnote",
    ),
    "clinical_notes_clinicalnote_addendum": Rule("clinical_notes.add_addendum", RECORD, "note"),
    "clinical_notes_clinicalnote_request_cosignature": Rule(
        "clinical_notes.change_clinicalnote", RECORD, "draft", inside="any"
    ),
    "clinical_notes_clinicalnote_withdraw_cosignature": Rule(
        "clinical_notes.change_clinicalnote", RECORD, "note", inside="any"
    ),
    "clinical_notes_clinicalnote_cosign": Rule("clinical_notes.cosign_clinicalnote", RECORD, "note", inside="any"),
    # The notes waiting for the user's co-signature (none in the walk: no request is pending).
    "clinical_notes_clinicalnote_cosignature_queue": Rule("clinical_notes.cosign_clinicalnote", LIST),
    "clinical_notes_clinicalnote_discard": Rule("clinical_notes.change_clinicalnote", RECORD, "draft", inside="any"),
    "clinical_notes_clinicalnote_authorize": Rule(
        "clinical_notes.change_clinicalnote", RECORD, "therapy_note", inside="any"
    ),
    **{
        name: dataclasses.replace(rule, inside="any")
        for name, rule in model_rules(
            "clinical_notes.psychotherapynoteauthorization",
            RECORD,
            "authorization",
            add=NOBODY,
            change=NOBODY,
            action="revoke_selected",
            history_model="clinical_notes.psychotherapynoteauthorization",
        ).items()
    },
    # Medications.
    **model_rules(
        "medications.medicationorder",
        RECORD,
        "order",
        action="hold_orders",
        add_scope=ADD_FOR,
        change=NOBODY,  # an order changes through revise/, discontinue/ and the transitions
        history_model="medications.medicationorder",
    ),
    "medications_medicationorder_revise": Rule("medications.change_medicationorder", RECORD, "order"),
    "medications_medicationorder_discontinue": Rule("medications.change_medicationorder", RECORD, "order"),
    "medications_medicationorder_transition": Rule(
        "medications.change_medicationorder",
        RECORD,
        "order",
        get_not_allowed=True,
        body={"action": "hold", "version": "1"},
    ),
    **model_rules(
        "medications.allergy",
        RECORD,
        "allergy",
        add_scope=ADD_FOR,
        history_model="medications.allergy",
    ),
    # Treatment plans. The walked plan is the current one, signed: read-only (a draft is edited on
    # its page); its steps are pages of their own.
    **model_rules(
        "treatment_plans.treatmentplan",
        RECORD,
        "plan",
        add_scope=ADD_FOR,
        change=NOBODY,
        history_model="treatment_plans.treatmentplan",
    ),
    "treatment_plans_treatmentplan_revise": Rule("treatment_plans.change_treatmentplan", RECORD, "plan"),
    "treatment_plans_treatmentplan_discontinue": Rule("treatment_plans.change_treatmentplan", RECORD, "plan"),
    "treatment_plans_treatmentplan_agreement": Rule("treatment_plans.change_treatmentplan", RECORD, "plan"),
    "treatment_plans_treatmentplan_progress": Rule("treatment_plans.add_objectiveprogress", RECORD, "plan"),
    # From a note's page to the progress page of its patient's current plan (a redirect).
    "treatment_plans_treatmentplan_progress_for_note": Rule(
        "treatment_plans.add_objectiveprogress", RECORD, "note", methods=("GET",)
    ),
    # Measures: the front desk may add a response (a paper form) and open nothing else.
    **model_rules(
        "assessments.response",
        RECORD,
        "response",
        add_scope=ADD_FOR,
        history_model="assessments.response",
    ),
    "assessments_response_void": Rule("assessments.change_response", RECORD, "response"),
    **model_rules(
        "assessments.safetyalert",
        RECORD,
        "alert",
        add=NOBODY,
        change=NOBODY,  # an alert changes through review/ only
        history_model="assessments.safetyalert",
    ),
    # Anyone who may change alerts opens it; only the patient's care team's review is recorded (a form error otherwise).
    "assessments_safetyalert_review": Rule("assessments.change_safetyalert", RECORD, "alert"),
}
# What the list of a model shows is "a list"; its rows are records of the patient `obj`.
LIST_RECORD = {
    "patients_patient_changelist": "patient",
    "patients_emergencyaccessgrant_changelist": "grant",
    "patients_careassignment_changelist": "careassignment",
    "appointments_appointment_changelist": "appointment",
    "appointments_appointmentseries_changelist": "series",
    "diagnoses_diagnosis_changelist": "diagnosis",
    "clinical_notes_clinicalnote_changelist": "note",
    "clinical_notes_psychotherapynoteauthorization_changelist": "authorization",
    "medications_medicationorder_changelist": "order",
    "medications_allergy_changelist": "allergy",
    "treatment_plans_treatmentplan_changelist": "plan",
    "assessments_response_changelist": "response",
    "assessments_safetyalert_changelist": "alert",
}


ROOT_NAMES = ("", "two-factor-verify", "two-factor-enrol", "password-change")  # outside the admin namespace


def key_of(pattern: URLPattern, route: str) -> str:
    """Return the table key of a URL pattern: its name, or its route when it has none."""
    return pattern.name if pattern.name is not None else route


def all_patterns(patterns=None, prefix=""):
    """Yield (key, route, pattern) for every URL pattern of the URLconf, resolvers walked recursively."""
    for item in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(item, URLResolver):
            yield from all_patterns(item.url_patterns, prefix + str(item.pattern))
        else:
            route = prefix + str(item.pattern)
            yield key_of(item, route), route, item


# --- the expectation ------------------------------------------------------------------------------

ALLOWED, SAVED, REFUSED, NOT_FOUND, GLASS, FORM_ERROR, NO_WRITE, NO_ERROR = (
    "allowed (2xx/3xx)",
    "saved (302 and rows written)",
    "refused (403/404)",
    "not found (404)",
    "break the glass (403)",
    "form error (200, nothing saved)",
    "nothing written (2xx/3xx/403/404)",
    "no server error",
)


def holds(user, perm) -> bool:
    if perm == NOBODY:
        return False
    if perm == SUPER:
        return user.is_superuser
    if callable(perm):
        return perm(user)
    if perm == ANY or user.is_superuser:
        return True
    perms = (perm,) if isinstance(perm, str) else perm
    return any(user.has_perm(p) for p in perms)


def expected(rule: Rule, user, which: str, method: str) -> str:
    """Return what the policy says `user` gets from the URL for the patient `which`."""
    if rule.scope == SESSION:
        return NO_ERROR
    if not holds(user, rule.perm):
        return REFUSED
    if method == "POST" and rule.post_perm and not holds(user, rule.post_perm):
        # A history version page shows itself read-only to whoever may not revert: no write is enough.
        # A list without the action's permission: the action is not offered, nothing happens.
        return NO_WRITE if rule.history or rule.scope == LIST else REFUSED
    restricted = policy.is_restricted(user)
    outside = which == walk.OUTSIDE
    if rule.scope == EMERGENCY:  # the break-the-glass page is itself a 403 that offers the form
        return GLASS if restricted and outside else REFUSED
    if restricted and outside:
        if rule.scope == RECORD:
            return NOT_FOUND
        if rule.scope == PATIENT_PAGE:
            return GLASS
        if rule.scope == ADD_FOR and method == "POST":
            return FORM_ERROR
        if rule.scope == LIST and method == "POST":
            return NO_WRITE
    if rule.inside == "any":
        return NO_ERROR
    if rule.scope == ADD_FOR and method == "POST" and not user.is_superuser:
        return SAVED  # a valid form for one's own patient is saved (a superuser writes no notes: no profile)
    return ALLOWED


def meets(outcome: str, status: int, body: str, rule: Rule, method: str, wrote: list[str]) -> bool:
    if status >= 500:
        return False
    if rule.get_not_allowed and method == "GET" and status == 405:
        return True  # answered before any lookup: nothing of the record is read
    if outcome == NO_ERROR:
        return True
    if outcome == ALLOWED:
        return 200 <= status < 400 or (rule.get_not_allowed and method == "GET" and status == 405)
    if outcome == SAVED:
        return status == 302 and bool(wrote)
    if wrote:
        return False
    if outcome == REFUSED:
        return status in (403, 404)
    if outcome == NOT_FOUND:
        return status == 404
    if outcome == GLASS:
        return status == 403 and "glass" in body.lower()
    if outcome == FORM_ERROR:
        return status == 200
    if outcome == NO_WRITE:
        return status < 400 or status in (403, 404)
    raise AssertionError(outcome)


# --- the requests -------------------------------------------------------------------------------


def url_of(key, route, rule: Rule, clinic, records) -> str | None:
    """Return the path of the URL for the patient's records (or the global object)."""
    if key == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    if key == "view_on_site":
        from django.contrib.contenttypes.models import ContentType

        from patients import models as patients_models

        return reverse(
            "admin:view_on_site",
            args=[ContentType.objects.get_for_model(patients_models.Patient).pk, records.ids["patient"]],
        )
    if key == "app_list":
        return reverse("admin:app_list", kwargs={"app_label": "appointments"})
    if key.startswith("admin/"):  # the unnamed redirect to a change page
        object_id = records.ids.get(rule.obj) or clinic.globals.get(rule.obj)
        return "/" + route.replace("<path:object_id>", str(object_id))
    if key in ROOT_NAMES:
        return reverse(key) if key else "/"
    args = []
    if rule.obj and ("object_id" in route or "<id>" in route or "<int:pk>" in route or "([^/]+)" in route):
        object_id = records.ids[rule.obj] if rule.obj in records.ids else clinic.globals[rule.obj]
        args = [object_id]
        if rule.history:
            from django.apps import apps

            args.append(walk.latest_history_id(apps.get_model(rule.history), object_id))
    return reverse(f"admin:{key}", args=args)


def add_body(key, user, clinic, records) -> dict:
    """Return a valid add form naming the patient (who books, treats or prescribes: the user if they may)."""
    today = timezone.localdate()
    clinician = user if user.groups.filter(name__in=walk.CLINICAL).exists() else clinic.other
    start = walk.local(20, 9)
    end = start + timezone.timedelta(minutes=50)
    patient = str(records.ids["patient"])
    bodies = {
        "patients_careassignment_add": {"patient": patient, "clinician": str(clinic.visitor.pk)},
        "appointments_appointment_add": {
            "patient": patient,
            "clinician": str(clinician.pk),
            "start_0": start.date().isoformat(),
            "start_1": "09:00:00",
            "end_0": end.date().isoformat(),
            "end_1": "09:50:00",
            "kind": "therapy",
            "modality": "telehealth",
            "room": "",
            "reason_for_visit": "low mood",
            "version": "1",
        },
        "appointments_appointmentseries_plan": {
            "patient": patient,
            "clinician": str(clinician.pk),
            "start_0": start.date().isoformat(),
            "start_1": "09:00:00",
            "end_0": end.date().isoformat(),
            "end_1": "09:50:00",
            "frequency": "weekly",
            "count": "3",
            "kind": "therapy",
            "modality": "telehealth",
            "_book": "1",
        },
        "diagnoses_diagnosis_add": {
            "patient": patient,
            "code": "F41.1",
            "specifier": "worse in winter",
            "onset_date": "",
            "status": "active",
            "status_since": "",
            "version": "1",
        },
        "clinical_notes_clinicalnote_add": {
            "patient": patient,
            "kind": "progress_note",
            "format": "soap",
            "date_of_service": today.isoformat(),
            "subjective": "Reports better sleep.",
            "objective": "Calm.",
            "assessment": "Improving.",
            "plan": "Weekly sessions.",
            "version": "1",
        },
        "medications_medicationorder_add": {
            "patient": patient,
            "drug_name": "lamotrigine",
            "strength": "25 mg",
            "dose_form": "tablet",
            "dose_amount": "25",
            "dose_unit": "mg",
            "route": "oral",
            "frequency_kind": "once_daily",
            "schedule": "none",
            "start_date": today.isoformat(),
            "quantity": "30",
            "refills": "1",
            "version": "1",
        },
        "medications_allergy_add": {
            "patient": patient,
            "substance": "latex",
            "reaction": "hives",
            "severity": "mild",
            "status": "active",
            "version": "1",
        },
        "treatment_plans_treatmentplan_add": {
            "patient": patient,
            "problems": "Low mood most days.",
            "version": "1",
            **{
                f"{rows}-{name}": "0"
                for rows in ("goals", "objectives", "interventions")
                for name in ("TOTAL_FORMS", "INITIAL_FORMS")
            },
        },
        "assessments_response_add": {
            "patient": patient,
            "instrument": "phq9",
            "administered_on": today.isoformat(),
            "appointment": "",
            "version": "1",
            **{f"item_{number}": "1" for number in range(1, 10)},
        },
    }
    return bodies.get(key, {})


def post_body(key, rule: Rule, user, clinic, records) -> dict:
    if rule.scope == ADD_FOR:
        return add_body(key, user, clinic, records)
    if rule.body is not None:
        return rule.body
    if rule.action:
        return {"action": rule.action, "_selected_action": [str(records.ids[rule.obj])], "index": "0"}
    return {}


def leaks(body: str, records) -> list[str]:
    """Return what of the patient's record the page shows (MRN, name, record ids)."""
    found = [what for what in (records.mrn, records.last_name) if what in body]
    return found + [f"{name} id" for name, value in records.ids.items() if str(value) in body]


@dataclasses.dataclass
class Walk:
    """The answers of one walk, and what did not match."""

    mismatches: list[str] = dataclasses.field(default_factory=list)
    requests: int = 0


def request(client, method, url, data, query, models):
    """Send one request in a transaction rolled back after it; return status, body and what it wrote."""
    with transaction.atomic():
        before = walk.fingerprint(models) if method == "POST" else None
        errors = None
        try:
            with transaction.atomic():  # a failed request leaves the outer transaction usable (PostgreSQL)
                response = client.post(url, data) if method == "POST" else client.get(url, query or {})
            status = response.status_code
            body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
            errors = form_errors(response)
        except Exception as error:  # noqa: BLE001 - an exception is what the walk reports
            status, body = 500, f"{type(error).__name__}: {str(error)[:120]}"
        wrote = walk.written(before, walk.fingerprint(models)) if before is not None else []
        transaction.set_rollback(True)
    return status, body, wrote, errors


def form_errors(response) -> set[str] | None:
    """Return the fields with errors on the page's main form (None when the page has no form)."""
    context = response.context
    if context is None:
        return None
    form = context["adminform"].form if "adminform" in context else context.get("form")
    return set(form.errors) if form is not None and hasattr(form, "errors") else None


def test_every_url_pattern_is_classified():
    unknown = sorted({key for key, _, _ in all_patterns() if key not in RULES})
    stale = sorted(set(RULES) - {key for key, _, _ in all_patterns()})
    assert not unknown, f"URLs with no rule in RULES (classify them): {unknown}"
    assert not stale, f"RULES names URLs that no longer exist: {stale}"


@pytest.fixture
def quiet():
    """Silence the request log: thousands of expected 403/404 tracebacks cost most of the walk's time."""
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def test_every_admin_url_answers_each_role_as_the_policy_says(quiet):
    clinic = walk.build_clinic()
    models = walk.record_models()
    result = Walk()
    clients = {}
    for role, user in clinic.users.items():
        client = Client()
        client.force_login(user)
        clients[role] = (client, user)
    # WALK_URLS=<regex> walks only the matching URL names (while fixing one app); the suite walks all.
    only = re.compile(os.environ.get("WALK_URLS", ""))
    patterns = [(key, route) for key, route, _ in all_patterns() if key in RULES and only.search(key)]
    for key, route in patterns:
        rule = RULES[key]
        about_patient = rule.scope in (RECORD, PATIENT_PAGE, EMERGENCY, ADD_FOR) or (
            rule.scope == LIST and (rule.obj or rule.query or key in LIST_RECORD)
        )
        which_patients = (walk.INSIDE, walk.OUTSIDE) if about_patient else (walk.INSIDE,)
        for role, (client, user) in clients.items():
            for which in which_patients:
                records = clinic.patients[which]
                url = url_of(key, route, rule, clinic, records)
                for method in rule.methods:
                    if method == "POST" and rule.scope == SESSION and key != "":
                        continue
                    if method == "GET" and rule.scope == LIST and rule.query is None and which == walk.OUTSIDE:
                        continue  # the same page as for the inside patient
                    query = rule.query(clinic, records) if (rule.query and method == "GET") else None
                    data = post_body(key, rule, user, clinic, records) if method == "POST" else None
                    status, body, wrote, errors = request(client, method, url, data, query, models)
                    result.requests += 1
                    outcome = expected(rule, user, which, method)
                    problems = []
                    if outcome == FORM_ERROR and status == 200 and errors is not None and "patient" not in errors:
                        problems.append(f"form errors on {sorted(errors)}, none next to the patient")
                    if not meets(outcome, status, body, rule, method, wrote):
                        problems.append(
                            f"got {status}" + (f" wrote {wrote}" if wrote else "") + f", expected {outcome}"
                        )
                        if status >= 500:
                            problems[-1] += (
                                f" [{body[:160] if body.startswith(tuple('ABCDEFGHIJKLMNOPQRSTUVWXYZ')) else ''}]"
                            )
                    if rule.scope == LIST and method == "GET" and policy.is_restricted(user) and status < 400:
                        shown = leaks(body, clinic.patients[walk.OUTSIDE])
                        if shown:
                            problems.append(f"shows the outside patient's {', '.join(shown)}")
                    for problem in problems:
                        result.mismatches.append(f"{key} | {role} | {which} | {method} {url} | {problem}")
    assert not result.mismatches, f"{len(result.mismatches)} mismatches in {result.requests} requests:\n" + "\n".join(
        result.mismatches
    )


def test_every_role_is_walked():
    assert not roles.MATRIX.keys() - set(walk.USERNAMES), "a role with no walked user: add it to walk.USERNAMES"
