"""Who may see a patient's records: the care relationship, and emergency ("break the glass") access.

Clinicians, prescribers and supervisors (novamind.roles) see a patient only if they treat them:
they are the clinician of one of the patient's appointments, the author of one of their notes
or the prescriber of one of their orders, or they hold an unexpired emergency access grant for
the patient. Everyone else (superusers, the front desk) is unchanged: what their permissions
allow. A user in a care role is restricted even if another of their roles is not.

`visible_patients()` and `restrict()` are subqueries (EXISTS), so a list costs no extra query per
row. `emergency_for()` decides, for the access log, whether an access happened only because of a
grant; it caches the user's live grants on the user object, so a page costs one extra query.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from novamind import access, audit, roles
from novamind.domain import RuleViolation

CARE_ROLES = (roles.CLINICIAN, roles.PRESCRIBER, roles.SUPERVISOR)
GRANT_ACTION = "emergency access granted"
GRANT_CATEGORY = "emergency access"
_CACHE = "_novamind_emergency_grants"
REASON_MIN = 20  # a sentence, not "x": a reviewer must be able to judge it


def _model(label):
    return apps.get_model(label)


def is_restricted(user) -> bool:
    """Return whether `user` sees only the patients they treat (a care role, not a superuser)."""
    if not getattr(user, "pk", None) or user.is_superuser:
        return False
    cached = getattr(user, "_novamind_care_restricted", None)
    if cached is None:
        cached = user.groups.filter(name__in=CARE_ROLES).exists()
        user._novamind_care_restricted = cached
    return cached


def _treats(user) -> Q:
    """Return the condition, on patients, that `user` treats the patient."""
    return (
        Q(Exists(_model("appointments.Appointment").objects.filter(patient=OuterRef("pk"), clinician=user)))
        | Q(Exists(_model("clinical_notes.ClinicalNote")._base_manager.filter(patient=OuterRef("pk"), author=user)))
        | Q(Exists(_model("medications.MedicationOrder").objects.filter(patient=OuterRef("pk"), prescriber=user)))
    )


def _granted(user, now=None) -> Q:
    """Return the condition, on patients, that `user` holds an unexpired emergency grant for them."""
    grants = _model("patients.EmergencyAccessGrant").objects.filter(
        patient=OuterRef("pk"), user=user, expires_at__gt=now or timezone.now()
    )
    return Q(Exists(grants))


def visible_patients(user, queryset=None):
    """Return the patients (of `queryset`, default all) whose records `user` may see."""
    patients = _model("patients.Patient")
    queryset = patients.objects.all() if queryset is None else queryset
    if not is_restricted(user):
        return queryset
    return queryset.filter(_treats(user) | _granted(user))


def restrict(queryset, user, *, via: str = "patient"):
    """Return the rows of `queryset` (clinical records) whose patient (`via`) `user` may see."""
    if not is_restricted(user):
        return queryset
    return queryset.filter(**{f"{via}__in": visible_patients(user).values("pk")})


def may_see(user, patient_id) -> bool:
    """Return whether `user` may see the records of the patient `patient_id`."""
    return visible_patients(user).filter(pk=patient_id).exists()


def treats(user, patient_id) -> bool:
    """Return whether `user` treats the patient (without counting emergency grants)."""
    return _model("patients.Patient").objects.filter(_treats(user), pk=patient_id).exists()


def _live_grants(user) -> dict:
    """Return {patient id: expiry} of the user's unexpired grants, cached on the user object."""
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = dict(
            _model("patients.EmergencyAccessGrant")
            .objects.filter(user=user, expires_at__gt=timezone.now())
            .values_list("patient_id", "expires_at")
            .order_by("expires_at")
        )
        setattr(user, _CACHE, cached)
    return cached


def emergency_for(user, patient_id) -> bool:
    """Return whether an access by `user` to the patient happens only because of an emergency grant."""
    if patient_id is None or not getattr(user, "pk", None) or user.is_superuser:
        return False
    try:
        patient_id = uuid.UUID(str(patient_id))
    except ValueError:
        return False
    expires = _live_grants(user).get(patient_id)
    if expires is None or expires <= timezone.now():
        return False
    return is_restricted(user) and not treats(user, patient_id)


def grant_duration() -> dt.timedelta:
    """Return how long an emergency grant lasts (NOVAMIND_EMERGENCY_ACCESS_MINUTES)."""
    return dt.timedelta(minutes=settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES)


def emergency_access_grant(*, patient_id, reason: str, actor, request=None):
    """Grant `actor` emergency access to the patient for a reason, and log it, in one transaction."""
    patient_model = _model("patients.Patient")
    grant_model = _model("patients.EmergencyAccessGrant")
    minimum = REASON_MIN
    reason = " ".join((reason or "").split())
    if len(reason) < minimum:
        raise RuleViolation(
            {"reason": [f"Give the reason for opening this record (at least {minimum} characters): it is reviewed."]}
        )
    with transaction.atomic():
        patient = patient_model.objects.filter(pk=patient_id).only("id", "mrn").first()
        if patient is None:
            raise RuleViolation({"patient": ["No such patient."]})
        now = timezone.now()
        grant = grant_model(
            patient=patient, user=actor, reason=reason, granted_at=now, expires_at=now + grant_duration()
        )
        audit.audited_save(grant, actor=actor, reason="Emergency access granted", validate=False)
        actor.__dict__.pop(_CACHE, None)
        access.record(
            user=actor,
            action=GRANT_ACTION,
            category=GRANT_CATEGORY,
            patient=patient,
            obj=grant,
            request=request,
            emergency=True,
            detail=f"until {timezone.localtime(grant.expires_at).isoformat(timespec='minutes')}",
        )
    return grant
