"""Builders of the clinical-notes tests: clinicians with staff profiles, notes in each state."""

import datetime as dt

from django.utils import timezone

from clinical_notes import domain, models, repository, services
from conftest import make_staff
from novamind import audit
from novamind.models import StaffProfile


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


def new_note(
    author, patient, *, kind=domain.NoteKind.PROGRESS_NOTE, format=domain.NoteFormat.SOAP, sections=None, days_ago=0
):
    """Return an unsaved domain note by `author` about `patient`."""
    return domain.ClinicalNote(
        patient_id=patient.id,
        author=models.staff_of(author),
        kind=kind,
        format=format,
        date_of_service=timezone.localdate() - dt.timedelta(days=days_ago),
        sections=sections if sections is not None else soap(),
    )


def drafted(author, patient, **options):
    """Return a draft saved through the services by its author."""
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
