"""Builders of the clinical-notes tests: clinicians with staff profiles, notes in each state."""

import datetime as dt

from django.utils import timezone

from clinical_notes import domain, models, repository, services
from conftest import make_staff
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from diagnoses import services as diagnoses_services
from novamind import audit
from novamind.domain import AccessDenied
from novamind.models import AnonymousWriteError, StaffProfile

DIAGNOSIS_CODE = "F32.1"  # Major depressive disorder, single episode, moderate


def make_clinician(username, *, supervisor=False, superuser=False, clinician=True):
    """Return a staff user with a staff profile saying what they are."""
    user = make_staff(username, superuser=superuser)
    audit.audited_save(
        StaffProfile(user=user, is_clinician=clinician, is_supervisor=supervisor),
        actor=user,
    )
    return user


def soap(**sections):
    """Return SOAP sections, each filled unless given."""
    values = {
        "subjective": "Sleeping better.",
        "objective": "Calm, good eye contact.",
        "assessment": "Improving.",
        "plan": "Continue weekly sessions.",
    }
    values.update(sections)
    return domain.Sections(**values)


def a_diagnosis(author, patient):
    """Return a current diagnosis of `patient` (the primary one, else any), recorded by `author` if there is none.

    None when there is none and `author` may not record one (a test of a refused note).
    """
    current = diagnoses_models.Diagnosis.objects.filter(
        patient_id=patient.id, status__in=[status.value for status in diagnoses_domain.CURRENT_STATUSES]
    ).order_by("-is_primary", "created_at")
    row = current.first()
    if row is not None:
        return row.to_domain(with_audit=False)
    try:
        return diagnoses_services.diagnosis_record(
            diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code=DIAGNOSIS_CODE, is_primary=True),
            actor=author,
        )
    except (AccessDenied, AnonymousWriteError):
        return None


def addressing(*diagnoses) -> tuple[domain.AddressedDiagnosis, ...]:
    """Return what a note names when it addresses `diagnoses` (domain or ORM diagnoses): their ids."""
    return tuple(domain.AddressedDiagnosis(id=diagnosis.id) for diagnosis in diagnoses)


def new_note(
    author,
    patient,
    *,
    kind=domain.NoteKind.PROGRESS_NOTE,
    format=domain.NoteFormat.SOAP,
    sections=None,
    days_ago=0,
    diagnoses=None,
):
    """Return an unsaved domain note by `author` about `patient`, addressing `diagnoses`.

    A progress note addresses the patient's primary diagnosis by default (recorded by the author
    if the patient has none): it is signed with one. Other kinds address none unless told.
    """
    if diagnoses is None:
        found = a_diagnosis(author, patient) if kind == domain.NoteKind.PROGRESS_NOTE else None
        diagnoses = [found] if found is not None else []
    return domain.ClinicalNote(
        patient_id=patient.id,
        author=models.staff_of(author),
        kind=kind,
        format=format,
        date_of_service=timezone.localdate() - dt.timedelta(days=days_ago),
        sections=sections if sections is not None else soap(),
        diagnoses=addressing(*diagnoses),
    )


def drafted(author, patient, **options):
    """Return a draft saved through the services by its author (a progress note addresses a diagnosis)."""
    return services.note_create(note=new_note(author, patient, **options), actor=author)


def signed(author, patient, **options):
    """Return a note drafted and signed by its author."""
    return services.note_sign(note_id=drafted(author, patient, **options).id, actor=author)


class NotesAs:
    """The notes' services (and the repository's listings) called as one actor, for short tests."""

    def __init__(self, actor):
        self.actor = actor

    def add(self, note):
        return services.note_create(note=note, actor=self.actor)

    def get_by_id(self, note_id):
        return services.note_read(note_id=note_id, actor=self.actor)

    def update(self, note):
        return services.note_update_draft(note=note, actor=self.actor)

    def sign(self, note_id, *, version=None):
        return services.note_sign(note_id=note_id, actor=self.actor, version=version)

    def delete(self, note_id):
        return services.note_discard(note_id=note_id, actor=self.actor)

    def add_addendum(self, note_id, *, text, reason):
        return services.addendum_add(note_id=note_id, text=text, reason=reason, actor=self.actor)

    def request_cosignature(self, note_id, *, supervisor_id):
        return services.cosignature_request(note_id=note_id, supervisor_id=supervisor_id, actor=self.actor)

    def cosign(self, note_id):
        return services.note_cosign(note_id=note_id, actor=self.actor)

    def __getattr__(self, name):
        # The listings (list_for_patient, psychotherapy_notes_for_patient, drafts_for_author).
        return getattr(repository.DjangoClinicalNoteRepository(actor=self.actor), name)


def notes_as(actor) -> NotesAs:
    """Return the notes' services as `actor` calls them."""
    return NotesAs(actor)
