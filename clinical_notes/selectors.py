"""Who may read a note, and the access log that says so: the reads every path shares.

The policy (patients.policy) decides whose records a user may see; this module adds the note's
own rules (`domain.read_decision`): psychotherapy notes are read by their author or someone they
authorized, and a pending co-signature request lets the supervisor it names open that one note
outside the patient's care. It writes every read, and every refusal, to the access log. Called
by the repository's reads, the services and the admin alike; it writes no note.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from django.db.models import F
from django.utils import timezone

from clinical_notes import domain, models
from novamind import access
from patients import policy
from patients.models import Patient

PSYCHOTHERAPY_CATEGORY = "psychotherapy_note"
CLINICAL_CATEGORY = "clinical_note"
REFUSAL_MESSAGE = (
    "Psychotherapy notes can be read only by their author, or by someone the author or a privacy "
    "officer has authorized. This attempt was recorded in the access log."
)
QUEUE_LIMIT = 50


def category_of(note) -> str:
    """Return the access-log data category of a note row or domain note."""
    kind = note.kind if isinstance(note.kind, str) else note.kind.value
    return PSYCHOTHERAPY_CATEGORY if kind == models.PSYCHOTHERAPY else CLINICAL_CATEGORY


def patient_ref(patient_id):
    """Return the patient as the access log names it (id and MRN), decrypting nothing."""
    return Patient.objects.only("id", "mrn").filter(pk=patient_id).first()


def decide(*, row: models.ClinicalNote, user, action: str) -> domain.ReadDecision:
    """Return whether `user` may `action` the note `row`, recording nothing.

    The one decision of every path to a note: care (patients.policy), then the note's own rules
    (`domain.read_decision`: the co-signature delegation, psychotherapy notes).
    """
    summary = row.to_summary()
    in_care = policy.may_see(user, row.patient_id)
    authorizations = []
    if in_care and summary.is_psychotherapy_note and user.pk != row.author_id:
        authorizations = [
            grant.to_domain()
            for grant in models.PsychotherapyNoteAuthorization.objects.filter(note=row, grantee=user).select_related(
                "grantee", "granted_by", "revoked_by"
            )
        ]
    return domain.read_decision(
        summary,
        reader=models.supervisor_of(user),
        authorizations=authorizations,
        now=timezone.now(),
        in_care=in_care,
        action=action,
    )


def note_access(*, row: models.ClinicalNote, user, action: str, request=None) -> domain.ReadDecision:
    """Decide whether `user` may see the content of `row` for `action`, and record it either way.

    Every note read is logged; for psychotherapy notes the entry names the authorization used,
    a read by the supervisor asked to co-sign (outside care) says so, and a refusal is logged as
    such. A note outside the user's care and not theirs to co-sign is not theirs to know of: that
    is the callers' 404, logged nowhere, as for every other record outside care. The entry is
    written at once (not in a transaction the caller might roll back), so refusals are kept even
    when the caller then fails.
    """
    decision = decide(row=row, user=user, action=action)
    if decision.outside_care:
        return decision
    detail = ""
    if decision.authorization is not None:
        detail = f"under authorization {decision.authorization.id}"
    elif decision.for_cosignature:
        detail = f"for co-signature, as asked by {row.author.get_username()}; not on the patient's care team"
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


def openable(queryset, user):
    """Return the notes of `queryset` that `user` may open: their patients' (patients.policy), and
    those waiting for their co-signature (the author's request lets them in, to that note only).

    One more condition in the same query (no query per row). Psychotherapy notes are not
    filtered here: callers add `readable_by(user)`.
    """
    in_care = policy.restrict(queryset, user)
    if not policy.is_restricted(user) or not (user.is_active and models.supervisor_of(user).is_supervisor):
        return in_care
    # One IN over a UNION, not `in_care | awaiting`: an OR would keep the database from joining
    # from the caseload's side, and it would read every note to find the few in care.
    notes = models.ClinicalNote.objects.order_by()
    either = policy.restrict(notes, user).values("pk").union(notes.awaiting_cosignature_by(user).values("pk"))
    return queryset.filter(pk__in=either)


@dataclasses.dataclass(frozen=True)
class AwaitingCosignature:
    """One note of a supervisor's co-signature queue, as the queue shows it: no text, nothing decrypted."""

    note_id: uuid.UUID
    patient_id: uuid.UUID
    patient_mrn: str
    kind: domain.NoteKind
    date_of_service: dt.date
    author: str
    signed_at: dt.datetime
    waiting_since: dt.datetime


@dataclasses.dataclass(frozen=True)
class CosignatureQueue:
    """The first notes waiting for one supervisor's co-signature, oldest request first, and how many wait."""

    notes: tuple[AwaitingCosignature, ...]
    total: int

    @property
    def more(self) -> int:
        """Return how many waiting notes are not in `notes`."""
        return self.total - len(self.notes)


def notes_awaiting_cosignature(*, supervisor, limit: int = QUEUE_LIMIT) -> CosignatureQueue:
    """Return the notes waiting for `supervisor`'s co-signature: at most `limit`, oldest request first.

    A note waits while a co-signature request names `supervisor` and it is not yet co-signed
    (requests are made on signed notes only; psychotherapy notes are never co-signed). Every
    note listed is one `supervisor` may open (`decide`), in their care or not. Empty for anyone
    who is no longer an active supervisor (role and profile).

    Cost: the same queries whatever the queue's length — the rows (from the partial index
    `clinical_note_cosign_queue`, with the author's username and the patient's MRN joined) and
    their count; nothing is decrypted. It records nothing: a page that shows the MRNs writes its
    own access-log entry (the admin's queue page does, action "list").
    """
    staff = models.supervisor_of(supervisor)
    if not (supervisor.is_active and staff.is_supervisor):
        return CosignatureQueue(notes=(), total=0)
    waiting = models.ClinicalNote.objects.awaiting_cosignature_by(supervisor)
    rows = (
        waiting.order_by("cosign_requested_at", "id")
        .values("id", "patient_id", "kind", "date_of_service", "signed_at", "cosign_requested_at")
        .annotate(patient_mrn=F("patient__mrn"), author_username=F("author__username"))[: max(limit, 0)]
    )
    notes = tuple(
        AwaitingCosignature(
            note_id=row["id"],
            patient_id=row["patient_id"],
            patient_mrn=row["patient_mrn"],
            kind=domain.NoteKind(row["kind"]),
            date_of_service=row["date_of_service"],
            author=row["author_username"],
            signed_at=row["signed_at"],
            waiting_since=row["cosign_requested_at"],
        )
        for row in rows
    )
    return CosignatureQueue(notes=notes, total=waiting.count())
