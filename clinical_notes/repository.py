"""The clinical notes repository: domain objects out, attributed writes in. Persistence only.

It decides nothing about who may write: that is `clinical_notes.services`, the only write door,
which asks the policy and the domain first and then stores through this module. The model's
`save()` still runs the domain's write check (`domain.check_write`) as the backstop.
"""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import Count, Prefetch

from clinical_notes import domain, models, selectors
from novamind import access, audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id


class DjangoClinicalNoteRepository:
    """Clinical notes in the database, read and written on behalf of one named user (`actor`).

    Writes are attributed to the actor. The listing reads are written to the access log and
    leave out the psychotherapy notes the actor may not read; `request`, when given, lets the
    log name the address the access came from.
    """

    def __init__(self, *, actor, request=None):
        self.actor = audit.require_actor(actor)
        self.request = request

    # --- reads ----------------------------------------------------------------------------

    def row(self, note_id) -> models.ClinicalNote | None:
        """Return the stored note row without its text (for access decisions), or None."""
        note_id = parse_id(note_id)
        if note_id is None:
            return None
        return (
            models.ClinicalNote._base_manager.select_related("author__staff_profile")
            .defer(*domain.SECTIONS)
            .filter(pk=note_id)
            .first()
        )

    def get(self, note_id) -> domain.ClinicalNote | None:
        """Return the note with its text and addenda, or None. Decides no access: callers do."""
        note_id = parse_id(note_id)
        if note_id is None:
            return None
        row = _loaded(models.ClinicalNote.objects).filter(pk=note_id).first()
        return None if row is None else _with_addenda(row)

    def list_for_patient(self, patient_id: uuid.UUID) -> list[domain.NoteSummary]:
        """Return the patient's notes without their text, psychotherapy notes left out."""
        rows = _summaries(models.ClinicalNote.objects.general().filter(patient_id=_uuid(patient_id)))
        access.record(
            user=self.actor,
            action="list",
            category=selectors.CLINICAL_CATEGORY,
            patient=selectors.patient_ref(_uuid(patient_id)),
            request=self.request,
            detail=f"{len(rows)} notes listed without their text",
        )
        return [row.to_summary() for row in rows]

    def psychotherapy_notes_for_patient(self, patient_id: uuid.UUID) -> list[domain.NoteSummary]:
        """Return the patient's psychotherapy notes the actor wrote or is authorized to read."""
        readable = selectors.psychotherapy_listing(user=self.actor, patient_id=_uuid(patient_id), request=self.request)
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

    # --- writes ---------------------------------------------------------------------------

    def add(self, note: domain.ClinicalNote) -> domain.ClinicalNote:
        """Store `note` as a new draft written by the actor, with the diagnoses it addresses; return it as stored."""
        with transaction.atomic():
            row = models.ClinicalNote(author=self.actor)
            row.update_from_domain(note)
            audit.checked_save(row, actor=self.actor, reason="Drafted")
            self._address(row, note.diagnosis_ids)
        return row.to_domain()

    def store(self, note: domain.ClinicalNote, *, reason: str) -> domain.ClinicalNote:
        """Store the content, diagnoses, signature and co-signature of `note` at the version it was read at."""
        expected = note.audit.version if note.audit else None
        if expected is None:
            raise RuleViolation("Store a note that was read from the repository (it carries its version).")
        row = _loaded(models.ClinicalNote.objects).filter(pk=note.id).first()
        if row is None:
            raise NotFound(f"No clinical note with id {note.id}.")
        if row.version != expected:
            raise ConcurrencyError("Clinical note", row, expected, row.version)
        row.version = expected  # the UPDATE itself checks it, so a concurrent save cannot slip in
        with transaction.atomic():
            # The links first: the note's own save then checks its hash over what it addresses.
            self._address(row, note.diagnosis_ids)
            row.update_from_domain(note)
            row.record_workflow(note)
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get(row.pk)

    def delete(self, note_id: uuid.UUID) -> None:
        """Delete a draft (its history is kept); the model refuses a signed note."""
        row = models.ClinicalNote._base_manager.filter(pk=note_id).first()
        if row is None:
            raise NotFound(f"No clinical note with id {note_id}.")
        row._history_user = self.actor
        row._change_reason = "Draft discarded"
        with transaction.atomic():
            self._address(row, frozenset(), reason="Draft discarded")
            row.delete()

    def _address(self, row: models.ClinicalNote, wanted: frozenset, *, reason: str = "No longer addressed") -> None:
        """Make the note's links to diagnoses be `wanted`: each link added or removed in the actor's name."""
        links = {link.diagnosis_id: link for link in models.AddressedDiagnosis.objects.filter(note=row)}
        for diagnosis_id, link in links.items():
            if diagnosis_id not in wanted:
                link._history_user = self.actor  # the history row of the removal names who removed it
                link._change_reason = reason
                link.delete()
        for diagnosis_id in sorted(wanted - links.keys(), key=str):
            audit.checked_save(
                models.AddressedDiagnosis(note=row, diagnosis_id=diagnosis_id), actor=self.actor, reason="Addressed"
            )
        getattr(row, "_prefetched_objects_cache", {}).pop("diagnosis_links", None)  # read them again

    def add_addendum(self, addendum: domain.Addendum) -> domain.Addendum:
        """Store a signed addendum written by the actor."""
        row = models.Addendum(
            note_id=addendum.note_id,
            author=self.actor,
            text=addendum.text,
            reason=addendum.reason,
            signed_at=addendum.signed_at,
            content_hash=addendum.content_hash,
        )
        audit.checked_save(row, actor=self.actor, reason="Addendum added")
        return row.to_domain()

    def add_authorization(self, *, note_id: uuid.UUID, grantee, reason: str, expires_at) -> domain.Authorization:
        """Store an authorization granted by the actor (the model runs the domain's rules)."""
        row = models.PsychotherapyNoteAuthorization(
            note_id=note_id, grantee=grantee, granted_by=self.actor, reason=reason, expires_at=expires_at
        )
        audit.checked_save(row, actor=self.actor, reason="Access granted")
        return row.to_domain()

    def revoke_authorization(self, authorization: domain.Authorization) -> domain.Authorization:
        """Store the revocation of `authorization` by the actor."""
        row = models.PsychotherapyNoteAuthorization.objects.get(pk=authorization.id)
        row.revoked_at, row.revoked_by = authorization.revoked_at, self.actor
        audit.checked_save(row, actor=self.actor, reason="Access revoked")
        return row.to_domain()


def _uuid(value) -> uuid.UUID:
    """Return the patient id `value` names; a garbage id is a caller's error (ValueError)."""
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError(f"badly formed patient id: {value!r}")
    return parsed


def with_diagnoses(queryset):
    """Return `queryset` with each note's addressed diagnoses read at once (for `to_domain`)."""
    links = models.AddressedDiagnosis.objects.select_related("diagnosis")
    return queryset.prefetch_related(Prefetch("diagnosis_links", queryset=links))


def _loaded(queryset):
    return with_diagnoses(
        queryset.select_related(
            "author__staff_profile",
            "signed_by",
            "cosign_requested_from",
            "cosigned_by",
            "created_by",
            "updated_by",
        )
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
