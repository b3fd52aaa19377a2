"""A signed note never changes: every refused path leaves its stored bytes exactly as they were."""

import dataclasses

import pytest
from django.core.management import CommandError, call_command
from django.db.models import TextField
from django.db.models.functions import Cast
from django.urls import reverse

from clinical_notes import domain, models
from clinical_notes.tests.factories import notes_as, signed
from novamind import audit
from novamind.domain import RuleViolation
from novamind.models import UnauditedWriteError

pytestmark = pytest.mark.django_db

COLUMNS = (
    *domain.SECTIONS,
    "kind",
    "format",
    "date_of_service",
    "patient_id",
    "status",
    "content_hash",
    "signed_at",
    "version",
    "updated_at",
)


def stored(note_id):
    """Return the note's row as stored: the ciphertext of each section, and its other columns."""
    ciphertext = {f"raw_{name}": Cast(name, output_field=TextField()) for name in domain.SECTIONS}
    row = (
        models.ClinicalNote.objects.filter(pk=note_id)
        .annotate(**ciphertext)
        .values(
            *ciphertext,
            *COLUMNS[len(domain.SECTIONS) :],
        )
        .get()
    )
    return row, models.ClinicalNote.history.filter(id=note_id).count()


@pytest.fixture
def note(author, patient):
    return signed(author, patient)


def test_a_post_of_the_admin_form_changes_nothing_and_says_why(client, author, patient, note):
    before = stored(note.id)
    client.force_login(author)
    data = {
        "patient": str(patient.id),
        "kind": "progress_note",
        "format": "soap",
        "date_of_service": note.date_of_service.isoformat(),
        "subjective": "Rewritten history",
        "objective": "",
        "data": "",
        "assessment": "",
        "plan": "",
        "body": "",
        "version": "2",
    }
    url = reverse("admin:clinical_notes_clinicalnote_change", args=[note.id])
    for extra in ({}, {"_sign": "Save and sign"}, {"_continue": "1"}):
        response = client.post(url, {**data, **extra}, follow=True)
        assert any("signed and can no longer be changed" in str(m) for m in response.context["messages"])
    assert stored(note.id) == before


def test_the_signed_note_page_is_read_only(client, author, note):
    client.force_login(author)
    page = client.get(reverse("admin:clinical_notes_clinicalnote_change", args=[note.id]))
    assert page.context["has_change_permission"] is False
    assert 'name="subjective"' not in page.content.decode() and "Sleeping better." in page.content.decode()


def test_a_repository_update_is_refused_and_changes_nothing(author, note):
    before = stored(note.id)
    notes = notes_as(author)
    current = notes.get_by_id(note.id)
    for change in (
        {"sections": dataclasses.replace(current.sections, plan="Discontinue")},
        {"kind": domain.NoteKind.DISCHARGE_SUMMARY},
        {"date_of_service": current.date_of_service.replace(day=1)},
        {},
    ):
        with pytest.raises(RuleViolation) as refused:
            notes.update(dataclasses.replace(current, **change))
        assert "signed and can no longer be changed" in str(refused.value)
    assert stored(note.id) == before


def test_reverting_to_the_draft_from_the_history_page_is_impossible(client, author, patient, note):
    before = stored(note.id)
    draft = models.ClinicalNote.history.filter(id=note.id, status="draft").get()
    url = reverse("admin:clinical_notes_clinicalnote_simple_history", args=[note.id, draft.history_id])
    client.force_login(author)
    page = client.get(url)
    assert page.context["revert_disabled"] is True
    assert 'name="subjective"' not in page.content.decode()
    history = client.get(reverse("admin:clinical_notes_clinicalnote_history", args=[note.id]))
    assert history.context["revert_disabled"] is True
    data = {
        "patient": str(patient.id),
        "kind": "progress_note",
        "format": "soap",
        "date_of_service": note.date_of_service.isoformat(),
        "subjective": "Old draft text",
        "objective": "o",
        "data": "",
        "assessment": "a",
        "plan": "p",
        "body": "",
        "version": "2",
    }
    response = client.post(url, data, follow=True)
    assert any("cannot be restored" in str(m) for m in response.context["messages"])
    assert stored(note.id) == before


def test_the_model_save_refuses_a_changed_signed_note_on_any_code_path(author, note):
    before = stored(note.id)
    row = models.ClinicalNote.objects.get(pk=note.id)
    row.plan = "Quietly changed"
    with pytest.raises(RuleViolation):
        audit.audited_save(row, actor=author, validate=False)
    row = models.ClinicalNote.objects.get(pk=note.id)
    row.status, row.signed_at, row.signed_by, row.content_hash = "draft", None, None, ""
    with pytest.raises(RuleViolation):
        audit.audited_save(row, actor=author, validate=False)
    assert stored(note.id) == before


def test_bulk_update_and_delete_are_refused(note):
    before = stored(note.id)
    with pytest.raises(UnauditedWriteError):
        models.ClinicalNote.objects.filter(pk=note.id).update(plan="x")
    with pytest.raises(UnauditedWriteError):
        models.ClinicalNote.objects.filter(pk=note.id).delete()
    assert stored(note.id) == before


def test_deleting_a_signed_note_is_refused(author, note):
    before = stored(note.id)
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).delete(note.id)
    assert "cannot be deleted" in str(refused.value)
    assert stored(note.id) == before


def test_the_edit_command_is_refused_with_a_clear_error(author, note, tmp_path):
    before = stored(note.id)
    text = tmp_path / "plan.txt"
    text.write_text("Changed by command", encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command(
            "edit_note", str(note.id), "--actor", author.username, "--section", "plan", "--text-file", str(text)
        )
    assert "not changed" in str(refused.value) and "signed" in str(refused.value)
    assert stored(note.id) == before


def test_a_note_changed_behind_the_application_cannot_be_saved_again(author, supervisor, note):
    from django.db import connection

    from novamind import encryption

    note_id = models.ClinicalNote._meta.pk.get_db_prep_value(note.id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clinical_notes_clinicalnote SET plan = %s WHERE id = %s",
            [encryption.encrypt("Forged plan"), note_id],
        )
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).request_cosignature(note.id, supervisor_id=supervisor.pk)
    assert "no longer matches the hash" in str(refused.value)
    assert models.ClinicalNote.objects.get(pk=note.id).cosign_requested_from is None
