"""The note commands: verify_notes detects tampering; sign, edit and addendum commands act as the actor."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from clinical_notes import domain, models
from clinical_notes.tests.factories import drafted, notes_as, signed
from novamind import encryption
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    options = {"stdin": stdin} if stdin is not None else {}
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def raw_update(table, column, value, pk):
    db_pk = models.ClinicalNote._meta.pk.get_db_prep_value(pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, db_pk])


def test_verify_notes_reports_all_signed_notes_intact(author, patient):
    signed(author, patient)
    signed(author, patient, kind=domain.NoteKind.PSYCHOTHERAPY_NOTE)
    drafted(author, patient)
    out, _ = run("verify_notes", "--actor", author.username)
    assert "All 2 signed notes and 0 addenda match" in out
    assert AccessLogEntry.objects.filter(user=author, action="verify").count() == 2


def test_verify_notes_detects_a_body_changed_by_raw_sql(author, patient):
    intact = signed(author, patient)
    changed = signed(author, patient)
    raw_update("clinical_notes_clinicalnote", "assessment", encryption.encrypt("Deteriorating."), changed.id)
    with pytest.raises(CommandError) as failed:
        run("verify_notes", "--actor", author.username)
    assert "1 problem(s)" in str(failed.value)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    report = err.getvalue()
    assert str(changed.id) in report and "no longer matches the hash" in report
    assert str(intact.id) not in report and "Deteriorating" not in report


def test_verify_notes_detects_a_plaintext_column_changed_by_raw_sql(author, patient, other_clinician):
    note = signed(author, patient)
    raw_update("clinical_notes_clinicalnote", "date_of_service", "2001-01-01", note.id)
    with pytest.raises(CommandError):
        run("verify_notes", "--actor", author.username)


def test_verify_notes_reports_a_row_that_no_longer_decrypts_and_checks_the_others(author, patient):
    broken = signed(author, patient)
    signed(author, patient)
    raw_update("clinical_notes_clinicalnote", "subjective", "not a fernet token", broken.id)
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    assert "1 problem(s) in 2 signed notes" in str(failed.value)
    assert "does not decrypt" in err.getvalue()


def test_verify_notes_detects_a_changed_addendum(author, patient):

    note = signed(author, patient)
    addendum = notes_as(author).add_addendum(note.id, text="Dose 50 mg", reason="Fix")
    db_pk = models.Addendum._meta.pk.get_db_prep_value(addendum.id, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE clinical_notes_addendum SET text = %s WHERE id = %s", [encryption.encrypt("Dose 500 mg"), db_pk]
        )
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    assert f"addendum {addendum.id}" in err.getvalue()


@pytest.mark.parametrize("command", ["verify_notes", "sign_note", "edit_note", "add_addendum"])
def test_every_note_command_requires_a_known_active_actor(command, author):
    arguments = {
        "verify_notes": [],
        "sign_note": ["00000000-0000-0000-0000-000000000000"],
        "edit_note": ["00000000-0000-0000-0000-000000000000", "--section", "plan", "--text-file", "-"],
        "add_addendum": ["00000000-0000-0000-0000-000000000000", "--text-file", "-", "--reason-file", "x"],
    }[command]
    with pytest.raises(CommandError) as missing:
        call_command(command, *arguments)
    assert "--actor" in str(missing.value)
    with pytest.raises(CommandError) as unknown:
        call_command(command, *arguments, "--actor", "nobody")
    assert "no user named 'nobody'" in str(unknown.value)
    author.is_active = False
    author.save()
    with pytest.raises(CommandError) as inactive:
        call_command(command, *arguments, "--actor", author.username)
    assert "not an active staff user" in str(inactive.value)


def test_sign_note_signs_own_drafts_and_fails_for_the_rest(author, other_clinician, patient):
    mine = drafted(author, patient)
    theirs = drafted(other_clinician, patient)
    err = io.StringIO()
    with pytest.raises(CommandError) as failed:
        call_command(
            "sign_note",
            str(mine.id),
            str(theirs.id),
            "not-an-id",
            "--actor",
            author.username,
            stdout=io.StringIO(),
            stderr=err,
        )
    assert "2 of 3 note(s) were not signed" in str(failed.value)
    assert "Only the author, msmith" in err.getvalue() and "not a note id" in err.getvalue()
    assert models.ClinicalNote.objects.get(pk=mine.id).status == "signed"
    assert models.ClinicalNote.objects.get(pk=theirs.id).status == "draft"


def test_edit_note_replaces_a_draft_section_from_standard_input(author, patient):
    note = drafted(author, patient)
    out, _ = run(
        "edit_note",
        str(note.id),
        "--actor",
        author.username,
        "--section",
        "plan",
        "--text-file",
        "-",
        stdin=io.StringIO("Increase to twice weekly.\r\n"),
    )
    assert "saved" in out
    row = models.ClinicalNote.objects.get()
    assert row.plan == "Increase to twice weekly." and row.history.first().history_user == author


def test_edit_note_reports_a_section_the_format_does_not_have(author, patient, tmp_path):
    note = drafted(author, patient)
    text = tmp_path / "body.txt"
    text.write_text("Free text", encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command(
            "edit_note", str(note.id), "--actor", author.username, "--section", "body", "--text-file", str(text)
        )
    assert "body: A SOAP note has no Note section" in str(refused.value)
    assert models.ClinicalNote.objects.get().version == 1


def test_edit_note_reports_an_unreadable_file(author, patient):
    note = drafted(author, patient)
    with pytest.raises(CommandError) as refused:
        call_command(
            "edit_note",
            str(note.id),
            "--actor",
            author.username,
            "--section",
            "plan",
            "--text-file",
            "/nonexistent/plan.txt",
        )
    assert "Cannot read the section text" in str(refused.value)


def test_add_addendum_adds_a_signed_addendum_and_refuses_a_draft(author, patient, tmp_path):
    text, reason = tmp_path / "text.txt", tmp_path / "reason.txt"
    text.write_text("Patient also reported headaches.", encoding="utf-8")
    reason.write_text("Late information", encoding="utf-8")
    note = signed(author, patient)
    out, _ = run(
        "add_addendum", str(note.id), "--actor", author.username, "--text-file", str(text), "--reason-file", str(reason)
    )
    assert "signed" in out
    assert models.Addendum.objects.get().text == "Patient also reported headaches."
    draft = drafted(author, patient)
    with pytest.raises(CommandError) as refused:
        call_command(
            "add_addendum",
            str(draft.id),
            "--actor",
            author.username,
            "--text-file",
            str(text),
            "--reason-file",
            str(reason),
        )
    assert "signed note only" in str(refused.value)
    assert models.Addendum.objects.count() == 1


class LogWriteFailed(Exception):
    """The access-log write broke half-way through a command."""


def test_verify_notes_whose_second_access_log_entry_fails_leaves_neither_entry(author, patient, monkeypatch):
    from novamind import access

    signed(author, patient)
    real, calls = access.record, []

    def second_fails(**kwargs):
        calls.append(kwargs["category"])
        if len(calls) == 2:
            raise LogWriteFailed
        return real(**kwargs)

    monkeypatch.setattr(access, "record", second_fails)
    with pytest.raises(LogWriteFailed):
        run("verify_notes", "--actor", author.username)
    assert len(calls) == 2
    assert not AccessLogEntry.objects.filter(action="verify").exists()


def test_verify_notes_logs_one_entry_per_category_in_one_run(author, patient):
    signed(author, patient)
    run("verify_notes", "--actor", author.username)
    assert sorted(AccessLogEntry.objects.filter(action="verify").values_list("category", flat=True)) == sorted(
        ["clinical_note", "psychotherapy_note"]
    )
