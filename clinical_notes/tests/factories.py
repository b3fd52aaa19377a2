"""Builders of the clinical-notes tests: clinicians with staff profiles, notes in each state."""

import datetime as dt

from django.utils import timezone

from clinical_notes import domain, models, repository
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
    """Return a draft saved through the repository by its author."""
    return repository.DjangoClinicalNoteRepository(actor=author).add(new_note(author, patient, **options))


def signed(author, patient, **options):
    """Return a note drafted and signed by its author."""
    notes = repository.DjangoClinicalNoteRepository(actor=author)
    return notes.sign(notes.add(new_note(author, patient, **options)).id)
