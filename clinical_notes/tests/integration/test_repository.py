"""The note repository on the real database: domain objects out, attributed writes, clear refusals."""

import dataclasses
import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinical_notes import domain, models, repository
from clinical_notes.tests.factories import drafted, make_clinician, new_note, notes_as, signed, soap
from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from novamind.models import AccessLogEntry, AnonymousWriteError

pytestmark = pytest.mark.django_db


def test_a_draft_round_trips_as_a_domain_object_attributed_to_its_author(author, patient):
    notes = notes_as(author)
    note = notes.add(new_note(author, patient, sections=soap(plan="  Weekly CBT.\r\n")))
    assert isinstance(note, domain.ClinicalNote) and note.status == domain.NoteStatus.DRAFT
    assert note.sections.plan == "Weekly CBT."  # normalised once, so the hash is stable
    again = notes.get_by_id(note.id)
    assert again.sections == note.sections and again.audit.created_by == "drpatel"
    assert models.ClinicalNote.history.get().history_user == author


def test_a_note_for_a_patient_who_does_not_exist_is_refused_and_nothing_is_written(author, patient):
    ghost = dataclasses.replace(new_note(author, patient), patient_id=uuid.uuid4())
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).add(ghost)
    assert "patient" in refused.value.errors
    assert models.ClinicalNote.objects.count() == 0 and models.ClinicalNote.history.count() == 0


def test_a_note_cannot_be_written_in_someone_elses_name(author, other_clinician, patient):
    with pytest.raises(RuleViolation):
        notes_as(other_clinician).add(new_note(author, patient))
    assert models.ClinicalNote.objects.count() == 0


def test_a_note_needs_a_named_active_actor(author, patient):
    with pytest.raises(AnonymousWriteError):
        repository.DjangoClinicalNoteRepository(actor=None)
    row = models.ClinicalNote(author=author, patient_id=patient.id, date_of_service=timezone.localdate())
    with pytest.raises(AnonymousWriteError):
        row.save()


def test_the_author_edits_a_draft_and_a_stale_edit_is_refused(author, patient):
    notes = notes_as(author)
    note = drafted(author, patient)
    notes.update(dataclasses.replace(note, sections=soap(plan="Twice weekly.")))
    with pytest.raises(ConcurrencyError):
        notes.update(dataclasses.replace(note, sections=soap(plan="Stale.")))
    assert models.ClinicalNote.objects.get().plan == "Twice weekly."


def test_someone_else_cannot_edit_or_sign_a_draft(author, other_clinician, patient):
    note = drafted(author, patient)
    notes = notes_as(other_clinician)
    with pytest.raises(RuleViolation) as refused:
        notes.update(dataclasses.replace(note, sections=soap(plan="Mine now.")))
    assert "Only the author, drpatel" in str(refused.value)
    with pytest.raises(RuleViolation) as refused:
        notes.sign(note.id)
    assert "Only the author, drpatel, can sign" in str(refused.value)
    row = models.ClinicalNote.objects.get()
    assert row.status == "draft" and row.version == 1


def test_signing_takes_the_hash_and_flags_a_late_entry(author, patient, settings):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    on_time = signed(author, patient, days_ago=3)
    late = signed(author, patient, days_ago=4)
    assert on_time.late_entry is False and late.late_entry is True
    assert on_time.content_hash == on_time.compute_hash() and len(on_time.content_hash) == 64
    assert models.ClinicalNote.objects.get(pk=late.id).history.first().history_change_reason == "Signed (late entry)"


def test_signing_an_empty_note_is_refused_and_nothing_is_written(author, patient):
    note = drafted(author, patient, format=domain.NoteFormat.FREE_TEXT, sections=domain.Sections())
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).sign(note.id)
    assert "body" in refused.value.errors
    assert models.ClinicalNote.objects.get().status == "draft"


def test_signing_twice_is_refused(author, patient):
    note = signed(author, patient)
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).sign(note.id)
    assert "already signed" in str(refused.value)


def test_an_addendum_is_signed_when_added_and_read_back_with_its_note(author, other_clinician, patient):
    note = signed(author, patient)
    addendum = notes_as(other_clinician).add_addendum(note.id, text="Seen again by phone.", reason="Late information")
    assert addendum.author.username == "msmith" and addendum.content_hash == addendum.compute_hash()
    read = notes_as(author).get_by_id(note.id)
    assert [a.text for a in read.addenda] == ["Seen again by phone."]


def test_an_addendum_to_a_draft_or_an_unknown_note_is_refused(author, patient):
    notes = notes_as(author)
    draft = drafted(author, patient)
    with pytest.raises(RuleViolation):
        notes.add_addendum(draft.id, text="x", reason="y")
    with pytest.raises(NotFound):
        notes.add_addendum(uuid.uuid4(), text="x", reason="y")
    assert models.Addendum.objects.count() == 0


def test_an_addendum_never_changes_and_is_never_deleted(author, patient):
    from novamind import audit

    note = signed(author, patient)
    added = notes_as(author).add_addendum(note.id, text="A", reason="B")
    row = models.Addendum.objects.get(pk=added.id)
    row.text = "Changed"
    with pytest.raises(RuleViolation):
        audit.audited_save(row, actor=author, validate=False)
    with pytest.raises(RuleViolation):
        row.delete()
    assert models.Addendum.objects.get().text == "A"


def test_a_discarded_draft_is_gone_but_kept_in_history(author, other_clinician, patient):
    note = drafted(author, patient)
    with pytest.raises(RuleViolation):
        notes_as(other_clinician).delete(note.id)
    notes_as(author).delete(note.id)
    assert models.ClinicalNote.objects.count() == 0
    record = models.ClinicalNote.history.filter(id=note.id).first()
    assert record.history_type == "-" and record.history_user == author
    assert record.history_change_reason == "Draft discarded"


def test_list_for_patient_returns_summaries_and_decrypts_nothing(author, patient):
    signed(author, patient)
    drafted(author, patient)
    notes = notes_as(author)
    with CaptureQueriesContext(connection) as queries:
        listed = notes.list_for_patient(patient.id)
    assert len(listed) == 2 and all(isinstance(n, domain.NoteSummary) for n in listed)
    note_queries = [q["sql"] for q in queries if "clinical_notes_clinicalnote" in q["sql"]]
    assert note_queries and not any('"subjective"' in sql for sql in note_queries)
    assert AccessLogEntry.objects.filter(user=author, action="list", category="clinical_note").exists()


def test_drafts_for_author_lists_only_that_authors_unsigned_notes(author, other_clinician, patient):
    draft = drafted(author, patient)
    signed(author, patient)
    drafted(other_clinician, patient)
    notes = notes_as(author)
    assert [n.id for n in notes.drafts_for_author()] == [draft.id]
    assert len(notes.drafts_for_author(other_clinician.pk)) == 1


def test_a_supervisor_co_signs_only_after_being_asked(author, supervisor, patient):
    note = signed(author, patient)
    as_supervisor = notes_as(supervisor)
    with pytest.raises(RuleViolation):
        as_supervisor.cosign(note.id)
    notes_as(author).request_cosignature(note.id, supervisor_id=supervisor.pk)
    cosigned = as_supervisor.cosign(note.id)
    assert cosigned.cosigned_by.username == "drlee" and cosigned.content_hash == note.content_hash


def test_a_co_signature_cannot_be_requested_from_someone_who_is_not_a_supervisor(author, other_clinician, patient):
    note = signed(author, patient)
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).request_cosignature(note.id, supervisor_id=other_clinician.pk)
    assert "cosign_requested_from" in refused.value.errors


def test_database_constraints_back_up_the_signature_rules(author, patient):
    from django.db import IntegrityError, transaction

    note = drafted(author, patient)
    db_pk = models.ClinicalNote._meta.pk.get_db_prep_value(note.id, connection)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE clinical_notes_clinicalnote SET status = 'signed' WHERE id = %s", [db_pk])


def test_a_note_dated_in_the_future_is_refused(author, patient):
    future = dataclasses.replace(new_note(author, patient), date_of_service=timezone.localdate() + dt.timedelta(days=2))
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).add(future)
    assert "date_of_service" in refused.value.errors


def test_someone_who_is_not_a_clinician_cannot_draft(staff, patient):
    with pytest.raises(RuleViolation) as refused:
        notes_as(staff).add(new_note(staff, patient))
    assert "Only clinicians" in str(refused.value)


def test_a_clinician_who_became_inactive_cannot_act(patient):
    gone = make_clinician("drgone")
    gone.is_active = False
    gone.save()
    with pytest.raises(AnonymousWriteError):
        notes_as(gone).add(new_note(gone, patient))
