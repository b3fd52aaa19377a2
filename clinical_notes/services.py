"""Rules that span a note and something else: who may read it (and the access log that says so),
psychotherapy-note authorizations, and the integrity check of signed notes.

One function per rule, called by the repository, the admin and the commands alike.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.core.exceptions import ValidationError
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from clinical_notes import domain, models
from novamind import access, audit, encryption
from novamind.domain import NotFound, RuleViolation
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


def save(row, *, actor, reason: str) -> None:
    """Save `row` through the audited path, turning validation errors into a RuleViolation."""
    try:
        audit.audited_save(row, actor=actor, reason=reason)
    except ValidationError as error:
        errors = error.message_dict if hasattr(error, "error_dict") else {RuleViolation.NON_FIELD: error.messages}
        raise RuleViolation(errors) from None


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


def authorization_grant(
    *, note_id: uuid.UUID, grantee, reason: str, expires_at: dt.datetime | None, actor, request=None
) -> domain.Authorization:
    """Authorize `grantee` to read one psychotherapy note until `expires_at`, as `actor`."""
    actor = audit.require_actor(actor)
    row = models.ClinicalNote.objects.filter(pk=note_id).first()
    if row is None:
        raise NotFound(f"No clinical note with id {note_id}.")
    if grantee is None:
        raise RuleViolation({"grantee": ["Choose who may read the note."]})
    grant = models.PsychotherapyNoteAuthorization(
        note=row,
        grantee=grantee,
        granted_by=actor,
        reason=reason,
        expires_at=expires_at,
    )
    save(grant, actor=actor, reason="Access granted")
    access.record(
        user=actor,
        action="authorize",
        category=PSYCHOTHERAPY_CATEGORY,
        patient=patient_ref(row.patient_id),
        obj=row,
        request=request,
        detail=f"authorization {grant.pk} for {grantee.get_username()} until {expires_at:%Y-%m-%d %H:%M}",
    )
    return grant.to_domain()


def authorization_revoke(*, authorization_id: uuid.UUID, actor, request=None) -> domain.Authorization:
    """Revoke an authorization at once, as `actor`."""
    actor = audit.require_actor(actor)
    grant = (
        models.PsychotherapyNoteAuthorization.objects.select_related("note__author", "grantee", "granted_by")
        .filter(pk=authorization_id)
        .first()
    )
    if grant is None:
        raise NotFound(f"No authorization with id {authorization_id}.")
    revoked = grant.to_domain().revoked(
        by=models.staff_of(actor),
        at=timezone.now(),
        note_author=models.staff_of(grant.note.author),
    )
    grant.revoked_at, grant.revoked_by = revoked.revoked_at, actor
    save(grant, actor=actor, reason="Access revoked")
    access.record(
        user=actor,
        action="revoke",
        category=PSYCHOTHERAPY_CATEGORY,
        patient=patient_ref(grant.note.patient_id),
        obj=grant.note,
        request=request,
        detail=f"authorization {grant.pk} revoked",
    )
    return grant.to_domain()


@dataclasses.dataclass
class Verification:
    """The outcome of recomputing the content hash of every signed note and addendum."""

    notes_checked: int
    addenda_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether every hash matched."""
        return not self.problems


def verify_integrity(*, actor, batch_size: int = 500) -> Verification:
    """Recompute every signed note's and addendum's hash from its decrypted content.

    A mismatch means the row was changed behind the application. The ciphertext is read as
    text and decrypted here, so one row that no longer decrypts is reported instead of
    stopping the run. The run decrypts notes of every kind without showing them, so it is
    recorded in the access log in `actor`'s name. Problems name records by id and patient
    MRN only, never by content.
    """
    actor = audit.require_actor(actor)
    problems: list[str] = []
    notes = (
        _with_ciphertext(models.ClinicalNote.objects.filter(status=domain.NoteStatus.SIGNED.value), domain.SECTIONS)
        .select_related("author__staff_profile", "signed_by", "cosign_requested_from", "cosigned_by")
        .annotate(patient_mrn=F("patient__mrn"))
        .order_by("signed_at", "id")
    )
    notes_checked = 0
    for row in notes.iterator(chunk_size=batch_size):
        notes_checked += 1
        label = f"note {row.pk} (patient {row.patient_mrn}, signed {timezone.localtime(row.signed_at):%Y-%m-%d})"
        try:
            sections = domain.Sections(**_decrypted(row, domain.SECTIONS))
        except encryption.DecryptionError:
            problems.append(f"{label}: its content does not decrypt (changed outside NovaMind, or a wrong key)")
            continue
        actual = row.to_domain(with_audit=False, sections=sections).compute_hash()
        if not row.content_hash:
            problems.append(f"{label}: it is signed but has no content hash")
        elif actual != row.content_hash:
            problems.append(f"{label}: its content no longer matches the hash taken at signing")
    addenda_checked = 0
    addenda = (
        _with_ciphertext(models.Addendum.objects.all(), ADDENDUM_TEXT)
        .select_related("author__staff_profile")
        .annotate(patient_mrn=F("note__patient__mrn"))
        .order_by("signed_at", "id")
    )
    for row in addenda.iterator(chunk_size=batch_size):
        addenda_checked += 1
        label = f"addendum {row.pk} to note {row.note_id} (patient {row.patient_mrn})"
        try:
            text = _decrypted(row, ADDENDUM_TEXT)
        except encryption.DecryptionError:
            problems.append(f"{label}: its content does not decrypt (changed outside NovaMind, or a wrong key)")
            continue
        actual = dataclasses.replace(row.to_domain(with_text=False), **text).compute_hash()
        if actual != row.content_hash:
            problems.append(f"{label}: its content no longer matches the hash taken when it was added")
    for category in (CLINICAL_CATEGORY, PSYCHOTHERAPY_CATEGORY):
        access.record(
            user=actor,
            action="verify",
            category=category,
            detail=f"integrity check of {notes_checked} signed notes and {addenda_checked} addenda; no content shown",
        )
    return Verification(notes_checked=notes_checked, addenda_checked=addenda_checked, problems=problems)


ADDENDUM_TEXT = ("text", "reason")


def _with_ciphertext(queryset, columns):
    # Cast to plain text: the column's own converter would decrypt while fetching, and a single
    # undecryptable row would stop the whole check.
    return queryset.defer(*columns).annotate(
        **{f"ciphertext_{name}": Cast(name, output_field=TextField()) for name in columns}
    )


def _decrypted(row, columns) -> dict[str, str]:
    values = {}
    for name in columns:
        token = getattr(row, f"ciphertext_{name}")
        values[name] = "" if token is None else encryption.decrypt(token)
    return values
