"""The clinical notes repository: domain objects out, attributed writes in."""

from __future__ import annotations

import dataclasses
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from clinical_notes import domain, models, services
from novamind import access, audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from patients.models import Patient


class DjangoClinicalNoteRepository:
    """Clinical notes in the database, read and written on behalf of one named user (`actor`).

    Reads are written to the access log; a psychotherapy note is refused (AccessDenied, and
    the refusal logged) to anyone but its author or someone holding an active authorization.
    `request`, when given, lets the log name the address the access came from.
    """

    def __init__(self, *, actor, request=None):
        self.actor = audit.require_actor(actor)
        self.request = request

    def add(self, note: domain.ClinicalNote) -> domain.ClinicalNote:
        """Store `note` as a new draft written by the actor, and return it as stored."""
        if note.author is not None and note.author.id != self.actor.pk:
            raise RuleViolation("A note can be written only in its author's own name.")
        if note.patient_id is not None:
            try:
                patient_id = _uuid(note.patient_id)
            except ValueError:
                patient_id = None
            if patient_id is None or not Patient.objects.filter(pk=patient_id).exists():
                raise RuleViolation({"patient": [f"No patient with id {note.patient_id} exists."]})
            note = dataclasses.replace(note, patient_id=patient_id)
        row = models.ClinicalNote(author=self.actor)
        row.update_from_domain(note)
        services.save(row, actor=self.actor, reason="Drafted")
        return row.to_domain()

    def get_by_id(self, note_id: uuid.UUID) -> domain.ClinicalNote | None:
        """Return the note with its text and addenda, or None; AccessDenied if the actor may not read it."""
        row = self._row(note_id)
        if row is None:
            return None
        services.require_access(row=row, user=self.actor, action="read", request=self.request)
        return _with_addenda(row)

    def update(self, note: domain.ClinicalNote) -> domain.ClinicalNote:
        """Store the changed content of a draft; a signed note is refused and nothing is written."""
        row = self._existing(note.id, action="update")
        expected = note.audit.version if note.audit else None
        if expected is None:
            raise RuleViolation("Update a note that was read from the repository (it carries its version).")
        refusal = domain.edit_refusal(row.to_domain(with_audit=False), models.staff_of(self.actor))
        if refusal:
            raise RuleViolation(refusal)
        row.version = expected  # the UPDATE itself checks it, so a concurrent save cannot slip in
        row.update_from_domain(note)
        services.save(row, actor=self.actor, reason="Draft changed")
        return row.to_domain()

    def delete(self, note_id: uuid.UUID) -> None:
        """Discard a draft (its history is kept); a signed note is refused."""
        row = self._existing(note_id, action="discard")
        row._history_user = self.actor
        row._change_reason = "Draft discarded"
        with transaction.atomic():
            row.delete()

    def list_for_patient(self, patient_id: uuid.UUID) -> list[domain.NoteSummary]:
        """Return the patient's notes without their text, psychotherapy notes left out."""
        rows = _summaries(models.ClinicalNote.objects.general().filter(patient_id=_uuid(patient_id)))
        access.record(
            user=self.actor,
            action="list",
            category=services.CLINICAL_CATEGORY,
            patient=services.patient_ref(_uuid(patient_id)),
            request=self.request,
            detail=f"{len(rows)} notes listed without their text",
        )
        return [row.to_summary() for row in rows]

    def psychotherapy_notes_for_patient(self, patient_id: uuid.UUID) -> list[domain.NoteSummary]:
        """Return the patient's psychotherapy notes the actor wrote or is authorized to read."""
        readable = services.psychotherapy_listing(user=self.actor, patient_id=_uuid(patient_id), request=self.request)
        return [row.to_summary() for row in _summaries(readable)]

    def drafts_for_author(self, author_id: int | None = None) -> list[domain.NoteSummary]:
        """Return the unsigned drafts of an author (the actor by default), without their text.

        Someone else's psychotherapy drafts are never listed.
        """
        author_id = self.actor.pk if author_id is None else author_id
        rows = models.ClinicalNote.objects.filter(author_id=author_id, status=domain.NoteStatus.DRAFT.value)
        if author_id != self.actor.pk:
            rows = rows.general()
        return [row.to_summary() for row in _summaries(rows)]

    def sign(self, note_id: uuid.UUID, *, version: int | None = None) -> domain.ClinicalNote:
        """Sign the actor's own draft: its content becomes final and its hash is taken."""
        row = self._existing(note_id, action="sign")
        if version is not None and row.version != version:
            raise ConcurrencyError("Clinical note", row, version, row.version)
        signed = sign_row(row, signer=self.actor)
        services.save(row, actor=self.actor, reason="Signed (late entry)" if signed.late_entry else "Signed")
        return _with_addenda(row)

    def add_addendum(self, note_id: uuid.UUID, *, text: str, reason: str) -> domain.Addendum:
        """Add a signed addendum by the actor to a signed note."""
        row = self._existing(note_id, action="add addendum")
        addendum = row.to_domain(with_audit=False).new_addendum(
            author=models.staff_of(self.actor),
            text=text,
            reason=reason,
            at=timezone.now(),
        )
        addendum_row = models.Addendum(
            note=row,
            author=self.actor,
            text=addendum.text,
            reason=addendum.reason,
            signed_at=addendum.signed_at,
            content_hash=addendum.content_hash,
        )
        services.save(addendum_row, actor=self.actor, reason="Addendum added")
        return addendum_row.to_domain()

    def request_cosignature(self, note_id: uuid.UUID, *, supervisor_id: int) -> domain.ClinicalNote:
        """Ask a supervisor to co-sign the actor's note."""
        row = self._existing(note_id, action="request co-signature")
        supervisor = get_user_model().objects.select_related("staff_profile").filter(pk=supervisor_id).first()
        if supervisor is None:
            raise RuleViolation({"cosign_requested_from": [f"No user with id {supervisor_id}."]})
        note = row.to_domain(with_audit=False).with_cosignature_requested(
            requester=models.staff_of(self.actor),
            supervisor=models.supervisor_of(supervisor),
            at=timezone.now(),
        )
        row.record_workflow(note)
        services.save(row, actor=self.actor, reason=f"Co-signature requested from {supervisor.get_username()}")
        return _with_addenda(row)

    def cosign(self, note_id: uuid.UUID) -> domain.ClinicalNote:
        """Record the actor's co-signature on a signed note they were asked to co-sign."""
        row = self._existing(note_id, action="co-sign")
        note = row.to_domain(with_audit=False).cosigned(cosigner=models.supervisor_of(self.actor), at=timezone.now())
        row.record_workflow(note)
        services.save(row, actor=self.actor, reason="Co-signed")
        return _with_addenda(row)

    def _row(self, note_id) -> models.ClinicalNote | None:
        try:
            note_id = _uuid(note_id)
        except ValueError:
            return None
        return _loaded(models.ClinicalNote.objects).filter(pk=note_id).first()

    def _existing(self, note_id, *, action: str) -> models.ClinicalNote:
        row = self._row(note_id)
        if row is None:
            raise NotFound(f"No clinical note with id {note_id}.")
        if row.kind == models.PSYCHOTHERAPY:
            # Someone who may not even read a psychotherapy note learns nothing more by writing.
            services.require_access(row=row, user=self.actor, action=action, request=self.request)
        return row


def sign_row(row: models.ClinicalNote, *, signer) -> domain.ClinicalNote:
    """Apply the signature of `signer` to the draft in `row` (not saved), or raise RuleViolation."""
    now = timezone.now()
    signed = row.to_domain(with_audit=False).signed(
        signer=models.staff_of(signer),
        at=now,
        signed_on=timezone.localdate(now),
        late_entry_days=settings.NOVAMIND_LATE_ENTRY_DAYS,
    )
    row.update_from_domain(signed)
    row.record_workflow(signed)
    return signed


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _loaded(queryset):
    return queryset.select_related(
        "author__staff_profile",
        "signed_by",
        "cosign_requested_from",
        "cosigned_by",
        "created_by",
        "updated_by",
    )


def _summaries(queryset) -> list[models.ClinicalNote]:
    return list(
        queryset.without_text()
        .select_related("author__staff_profile")
        .annotate(addenda_count=Count("addenda"))
        .order_by("-date_of_service", "-created_at")
    )


def _with_addenda(row: models.ClinicalNote) -> domain.ClinicalNote:
    addenda = row.addenda.select_related("author__staff_profile", "created_by", "updated_by")
    return row.to_domain(addenda=[addendum.to_domain() for addendum in addenda])
