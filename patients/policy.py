"""The access policy: who may see, or act on, which patient's records. One module, every path.

Every path asks it: admin changelists (`restrict`, `visible_patients`), change, history and
workflow pages and custom views (`require`), the dashboard, the commands' `--actor` and the
exports. Each app's services ask it before writing, so a write can never be a side door.

Roles (novamind.roles) say what a user may do to which kind of record; this module adds whose:

- **Care.** Clinicians, prescribers and supervisors (the care roles) see a patient only while they
  are on the patient's care team (an open `CareAssignment`) or hold an unexpired emergency grant.
  A user in a care role is restricted even if another of their roles is not. Everyone else
  (superusers, the front desk) sees what their role's permissions allow.
- **How care begins** is explicit and audited, never a side effect: a user who may assign care
  (`may_assign_care`: superusers and the roles holding `patients.add_careassignment`, i.e. the
  front desk) assigns a clinician, or books an appointment with that clinician; or a clinician
  breaks the glass with a reason (`emergency_access_grant`, time-limited). A clinician's own
  writes (a note, a booking, a prescription, a revision) never create care, and a clinician
  cannot assign care, to themself or anyone.
- **How care ends**: whoever may assign care ends an assignment; an emergency grant ends by itself.
- **Psychotherapy notes** are a further rule on top of care: readable only by their author or
  under an authorization (`clinical_notes.domain.read_decision`, asked by the note selectors).
- **A co-signature request** is the one way past care, and it opens a single note: the
  supervisor a pending request names may read that note and co-sign it (the same
  `read_decision`, asked by `clinical_notes.selectors.decide` and `openable`); nothing else of
  the patient. It is the note author's explicit, audited act, and it ends with the co-signature
  or the request's withdrawal.

`visible_patients()` and `restrict()` are one subquery (the caseload's patient ids), so a list costs
no extra query per row. `emergency_for()` decides, for the access log, whether an access happened only because of a
grant; it caches the user's live grants on the user object, so a page costs one extra query.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from novamind import roles
from novamind.domain import AccessDenied, parse_id
from patients import models

CARE_ROLES = (roles.CLINICIAN, roles.PRESCRIBER, roles.SUPERVISOR)
GRANT_ACTION = "emergency access granted"
GRANT_CATEGORY = "emergency access"
ASSIGN_CARE = "patients.add_careassignment"
_CACHE = "_novamind_emergency_grants"
REASON_MIN = 20  # a sentence, not "x": a reviewer must be able to judge it


def is_restricted(user) -> bool:
    """Return whether `user` sees only the patients they treat (a care role, not a superuser)."""
    if not getattr(user, "pk", None) or user.is_superuser:
        return False
    cached = getattr(user, "_novamind_care_restricted", None)
    if cached is None:
        cached = user.groups.filter(name__in=CARE_ROLES).exists()
        user._novamind_care_restricted = cached
    return cached


def cared_for_ids(user, now=None):
    """Return the ids of the patients `user` treats or holds a live grant for, as one subquery.

    A UNION of two small index lookups (the user's open assignments and live grants): the
    database joins a list to it from the caseload's side, so a clinician's list costs what their
    caseload holds, not what the clinic holds. (An OR of two EXISTS on the patients table made
    PostgreSQL scan every patient: a care-filtered list grew with the clinic.)
    """
    assignments = models.CareAssignment.objects.filter(clinician=user, ended_at=None)
    grants = models.EmergencyAccessGrant.objects.filter(user=user, expires_at__gt=now or timezone.now())
    return assignments.order_by().values("patient_id").union(grants.order_by().values("patient_id"))


def visible_patients(user, queryset=None):
    """Return the patients (of `queryset`, default all) whose records `user` may see."""
    queryset = models.Patient.objects.all() if queryset is None else queryset
    if not getattr(user, "pk", None) or not user.is_active:
        return queryset.none()
    if not is_restricted(user):
        return queryset
    return queryset.filter(pk__in=cared_for_ids(user))


def restrict(queryset, user, *, via: str = "patient"):
    """Return the rows of `queryset` (clinical records) whose patient (`via`) `user` may see."""
    if not getattr(user, "pk", None) or not user.is_active:
        return queryset.none()
    if not is_restricted(user):
        return queryset
    return queryset.filter(**{f"{via}__in": cared_for_ids(user)})


def may_see(user, patient_id) -> bool:
    """Return whether `user` may see the records of the patient `patient_id`."""
    patient_id = parse_id(patient_id)
    return patient_id is not None and visible_patients(user).filter(pk=patient_id).exists()


def treats(user, patient_id) -> bool:
    """Return whether `user` is on the patient's care team (emergency grants do not count)."""
    patient_id = parse_id(patient_id)
    return (
        patient_id is not None
        and models.CareAssignment.objects.filter(patient_id=patient_id, clinician=user, ended_at=None).exists()
    )


def may(user, permission: str) -> bool:
    """Return whether `user`'s roles allow `permission` ("app.codename") at all, on any patient."""
    return bool(getattr(user, "pk", None)) and user.is_active and user.has_perm(permission)


def require(user, permission: str | None = None, *, patient_id=None) -> None:
    """Raise AccessDenied unless `user` holds `permission` and may see the patient `patient_id`.

    The one question every service, selector, view and command asks before it reads or writes one
    patient's records: the role (`permission`, e.g. "clinical_notes.add_clinicalnote"), then care.
    """
    if not getattr(user, "pk", None) or not user.is_active:
        raise AccessDenied("Only an active, signed-in staff member may do this.")
    if permission is not None and not user.has_perm(permission):
        raise AccessDenied(f"{user.get_username()} lacks the permission this needs ({permission}).")
    if patient_id is not None and not may_see(user, patient_id):
        raise AccessDenied(f"{user.get_username()} is not on this patient's care team.")


def may_assign_care(user) -> bool:
    """Return whether `user` may put clinicians on care teams (front desk and superusers).

    Never a user in a care role: a clinician cannot open a patient's record by assigning
    themself (or a colleague who would then share it), whatever other role they hold.
    """
    return may(user, ASSIGN_CARE) and (user.is_superuser or not is_restricted(user))


def is_care_clinician(user) -> bool:
    """Return whether `user` can be put on a care team (an active user in a care role)."""
    return bool(getattr(user, "pk", None)) and user.is_active and user.groups.filter(name__in=CARE_ROLES).exists()


def _live_grants(user) -> dict:
    """Return {patient id: expiry} of the user's unexpired grants, cached on the user object."""
    cached = getattr(user, _CACHE, None)
    if cached is None:
        cached = dict(
            models.EmergencyAccessGrant.objects.filter(user=user, expires_at__gt=timezone.now())
            .values_list("patient_id", "expires_at")
            .order_by("expires_at")
        )
        setattr(user, _CACHE, cached)
    return cached


def forget_grants(user) -> None:
    """Drop the cached grants of `user` (after a new grant was made)."""
    user.__dict__.pop(_CACHE, None)


def emergency_for(user, patient_id) -> bool:
    """Return whether an access by `user` to the patient happens only because of an emergency grant."""
    if patient_id is None or not getattr(user, "pk", None) or user.is_superuser:
        return False
    patient_id = parse_id(patient_id)
    if patient_id is None:
        return False
    expires = _live_grants(user).get(patient_id)
    if expires is None or expires <= timezone.now():
        return False
    return is_restricted(user) and not treats(user, patient_id)


def emergency_among(user, patient_ids) -> bool:
    """Return whether `user` sees any of these patients only because of an emergency grant.

    For a page that names several patients (a list): the user's live grants (cached, as for
    `emergency_for`) and, if they hold any, one query for which of those patients they treat —
    whatever the page holds.
    """
    if not getattr(user, "pk", None) or user.is_superuser or not is_restricted(user):
        return False
    now = timezone.now()
    granted = {patient_id for patient_id, expires in _live_grants(user).items() if expires > now}
    if not granted:
        return False
    treated = set(
        models.CareAssignment.objects.filter(clinician=user, ended_at=None, patient_id__in=granted).values_list(
            "patient_id", flat=True
        )
    )
    return any(parse_id(patient_id) in granted - treated for patient_id in patient_ids)


def grant_duration() -> dt.timedelta:
    """Return how long an emergency grant lasts (NOVAMIND_EMERGENCY_ACCESS_MINUTES)."""
    return dt.timedelta(minutes=settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES)
