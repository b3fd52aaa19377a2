"""Who may read a note, and the access log that says so: the reads every path shares.

The policy (patients.policy) decides whose records a user may see; this module adds the rule of
psychotherapy notes (`domain.read_decision`: their author, or someone they authorized) and writes
every read, and every refusal, to the access log. Called by the repository's reads, the services
and the admin alike; it writes no note.
"""

from __future__ import annotations

from django.utils import timezone

from clinical_notes import domain, models
from novamind import access
from patients.models import Patient

PSYCHOTHERAPY_CATEGORY = "psychotherapy_note"
CLINICAL_CATEGORY = "clinical_note"
REFUSAL_MESSAGE = (
    "Psychotherapy notes can be read only by their author, or by someone the author or a privacy "
    "officer has authorized. This attempt was recorded in the access log."
)


def category_of(note) -> str:
    """Return the access-log data category of a note row or domain note."""
    kind = note.kind if isinstance(note.kind, str) else note.kind.value
    return PSYCHOTHERAPY_CATEGORY if kind == models.PSYCHOTHERAPY else CLINICAL_CATEGORY


def patient_ref(patient_id):
    """Return the patient as the access log names it (id and MRN), decrypting nothing."""
    return Patient.objects.only("id", "mrn").filter(pk=patient_id).first()


def note_access(*, row: models.ClinicalNote, user, action: str, request=None) -> domain.ReadDecision:
    """Decide whether `user` may see the content of `row` for `action`, and record it either way.

    Every note read is logged; for psychotherapy notes the entry names the authorization used,
    and a refusal is logged as such. The entry is written at once (not in a transaction the
    caller might roll back), so refusals are kept even when the caller then fails.
    """
    summary = row.to_summary()
    authorizations = []
    if summary.is_psychotherapy_note and user.pk != row.author_id:
        authorizations = [
            grant.to_domain()
            for grant in models.PsychotherapyNoteAuthorization.objects.filter(note=row, grantee=user).select_related(
                "grantee", "granted_by", "revoked_by"
            )
        ]
    decision = domain.read_decision(
        summary,
        reader=models.staff_of(user),
        authorizations=authorizations,
        now=timezone.now(),
    )
    detail = ""
    if decision.authorization is not None:
        detail = f"under authorization {decision.authorization.id}"
    elif not decision.allowed:
        detail = "not the author and no active authorization"
    access.record(
        user=user,
        action=action,
        category=category_of(row),
        patient=patient_ref(row.patient_id),
        outcome=access.GRANTED if decision.allowed else access.REFUSED,
        obj=row,
        request=request,
        detail=detail,
    )
    return decision


def require_access(*, row: models.ClinicalNote, user, action: str, request=None) -> domain.ReadDecision:
    """Return the decision for `user` on `row`, or raise AccessDenied (already recorded)."""
    decision = note_access(row=row, user=user, action=action, request=request)
    if not decision.allowed:
        raise domain.AccessDenied(REFUSAL_MESSAGE)
    return decision


def psychotherapy_listing(*, user, patient_id=None, request=None):
    """Return the psychotherapy notes `user` may list (their own and authorized), and log the listing.

    When a patient is named and some of their psychotherapy notes are withheld from `user`,
    the withholding is recorded as a refused listing.
    """
    readable = models.ClinicalNote.objects.psychotherapy_readable_by(user)
    patient = None
    if patient_id is not None:
        patient = patient_ref(patient_id)
        readable = readable.filter(patient_id=patient_id)
        withheld = (
            models.ClinicalNote.objects.filter(kind=models.PSYCHOTHERAPY, patient_id=patient_id)
            .exclude(pk__in=readable.values("pk"))
            .count()
        )
        if withheld:
            access.record(
                user=user,
                action="list",
                category=PSYCHOTHERAPY_CATEGORY,
                patient=patient,
                outcome=access.REFUSED,
                request=request,
                detail=f"{withheld} psychotherapy note(s) of other authors withheld from the listing",
            )
    access.record(
        user=user,
        action="list",
        category=PSYCHOTHERAPY_CATEGORY,
        patient=patient,
        request=request,
        detail="own and authorized psychotherapy notes",
    )
    return readable
