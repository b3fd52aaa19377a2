"""The note admin: drafts by their author, save and sign, read-only signed notes, workflow pages."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinical_notes import models
from clinical_notes.tests.factories import a_diagnosis, drafted, make_clinician, notes_as, signed

pytestmark = pytest.mark.django_db


def add_url():
    return reverse("admin:clinical_notes_clinicalnote_add")


def change_url(note_id):
    return reverse("admin:clinical_notes_clinicalnote_change", args=[note_id])


def tool_url(name, note_id):
    return reverse(f"admin:clinical_notes_clinicalnote_{name}", args=[note_id])


def form_data(patient, **overrides):
    data = {
        "patient": str(patient.id),
        "kind": "progress_note",
        "format": "soap",
        "date_of_service": timezone.localdate().isoformat(),
        "subjective": "Reports better sleep.",
        "objective": "Calm.",
        "data": "",
        "assessment": "Improving.",
        "plan": "Weekly sessions.",
        "body": "",
        "version": "1",
    }
    data.update(overrides)
    return data


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


def test_a_clinician_drafts_a_note_in_their_own_name_with_a_history_row(client, author, patient):
    client.force_login(author)
    response = client.post(add_url(), form_data(patient))
    assert response.status_code == 302
    note = models.ClinicalNote.objects.get()
    assert note.author == author and note.status == "draft" and note.subjective == "Reports better sleep."
    record = note.history.get()
    assert record.history_user == author and record.history_change_reason == "Drafted"


def test_invalid_note_details_are_reported_next_to_each_field_and_nothing_is_saved(client, author, patient):
    client.force_login(author)
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    response = client.post(add_url(), form_data(patient, date_of_service=tomorrow, body="Stray free text"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "no later than" in errors["date_of_service"][0]
    assert "no Note section" in errors["body"][0]
    assert models.ClinicalNote.objects.count() == 0 and models.ClinicalNote.history.count() == 0


def test_a_note_for_a_patient_who_does_not_exist_is_a_field_error(client, author, patient):
    client.force_login(author)
    response = client.post(add_url(), {**form_data(patient), "patient": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 200
    assert "patient" in response.context["adminform"].form.errors
    assert models.ClinicalNote.objects.count() == 0


def test_someone_who_is_not_a_clinician_cannot_write_a_note(staff_client, patient):
    response = staff_client.post(add_url(), form_data(patient))
    assert response.status_code == 200
    assert "Only clinicians" in " ".join(response.context["adminform"].form.non_field_errors())
    assert models.ClinicalNote.objects.count() == 0


def test_save_and_sign_makes_the_note_final_with_its_hash(client, author, patient):
    diagnosis = a_diagnosis(author, patient)
    client.force_login(author)
    response = client.post(add_url(), {**form_data(patient, diagnoses=[diagnosis.id]), "_sign": "Save and sign"})
    note = models.ClinicalNote.objects.get()
    assert response.status_code == 302 and response.url == change_url(note.pk)
    assert note.status == "signed" and note.signed_by == author and note.signed_at is not None
    assert note.content_hash == note.to_domain().compute_hash()
    assert [r.history_change_reason for r in note.history.order_by("history_date")] == ["Drafted", "Signed"]
    page = client.get(change_url(note.pk))
    assert "Save and sign" not in page.content.decode() and "Reports better sleep." in page.content.decode()


def test_signing_with_an_empty_section_is_refused_next_to_it_and_nothing_is_written(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    response = client.post(change_url(note.id), {**form_data(patient, plan=""), "_sign": "Save and sign"})
    assert response.status_code == 200
    assert "before signing" in response.context["adminform"].form.errors["plan"][0]
    row = models.ClinicalNote.objects.get()
    assert row.status == "draft" and row.plan == "Continue weekly sessions." and row.version == 1


def test_a_note_signed_days_after_the_date_of_service_is_flagged_late(client, author, patient, settings):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    client.force_login(author)
    late = (timezone.localdate() - dt.timedelta(days=5)).isoformat()
    diagnosis = a_diagnosis(author, patient)
    client.post(
        add_url(), {**form_data(patient, date_of_service=late, diagnoses=[diagnosis.id]), "_sign": "Save and sign"}
    )
    note = models.ClinicalNote.objects.get()
    assert note.late_entry is True
    assert note.history.first().history_change_reason == "Signed (late entry)"


def test_only_the_author_sees_a_draft_as_editable(client, author, other_clinician, patient):
    note = drafted(author, patient)
    client.force_login(other_clinician)
    page = client.get(change_url(note.id))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    response = client.post(change_url(note.id), form_data(patient, plan="Hijacked"), follow=True)
    assert any("Only the author" in message for message in messages_of(response))
    assert models.ClinicalNote.objects.get().plan == "Continue weekly sessions."


def test_the_addendum_page_adds_a_signed_addendum_to_a_signed_note(client, author, patient):
    note = signed(author, patient)
    client.force_login(author)
    assert client.get(tool_url("addendum", note.id)).status_code == 200
    response = client.post(tool_url("addendum", note.id), {"text": "Dose was 50 mg.", "reason": "Correction"})
    assert response.status_code == 302
    addendum = models.Addendum.objects.get()
    assert addendum.author == author and addendum.text == "Dose was 50 mg."
    assert addendum.content_hash == addendum.to_domain().compute_hash()
    page = client.get(change_url(note.id)).content.decode()
    assert "Dose was 50 mg." in page


def test_an_addendum_on_a_draft_is_refused_with_a_clear_error_and_nothing_written(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    response = client.post(tool_url("addendum", note.id), {"text": "More", "reason": "Late info"})
    assert response.status_code == 200
    assert "signed note only" in " ".join(response.context["form"].non_field_errors())
    assert models.Addendum.objects.count() == 0


def test_an_empty_addendum_is_a_field_error(client, author, patient):
    note = signed(author, patient)
    client.force_login(author)
    response = client.post(tool_url("addendum", note.id), {"text": "   ", "reason": "Correction"})
    assert response.status_code == 200
    assert "text" in response.context["form"].errors
    assert models.Addendum.objects.count() == 0


def test_a_supervisor_co_signs_a_note_after_the_author_asks(client, author, supervisor, patient):
    note = signed(author, patient)
    client.force_login(author)
    response = client.post(tool_url("request_cosignature", note.id), {"cosign_requested_from": supervisor.pk})
    assert response.status_code == 302
    client.force_login(supervisor)
    page = client.get(change_url(note.id))
    assert tool_url("cosign", note.id) in page.content.decode()
    assert client.post(tool_url("cosign", note.id), {}).status_code == 302
    row = models.ClinicalNote.objects.get()
    assert row.cosigned_by == supervisor and row.cosigned_at is not None
    assert row.history.first().history_user == supervisor


def test_co_signing_a_note_one_was_not_asked_to_co_sign_is_refused(client, author, supervisor, patient):
    note = signed(author, patient)
    other_supervisor = make_clinician("drchen", supervisor=True)
    notes_as(author).request_cosignature(note.id, supervisor_id=supervisor.pk)
    client.force_login(other_supervisor)
    response = client.post(tool_url("cosign", note.id), {})
    assert response.status_code == 200
    assert "drlee, who was asked" in " ".join(response.context["form"].non_field_errors())
    assert models.ClinicalNote.objects.get().cosigned_by is None


def test_a_draft_is_discarded_from_its_page_and_kept_in_history(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    assert client.get(tool_url("discard", note.id)).status_code == 200
    response = client.post(tool_url("discard", note.id), {})
    assert response.status_code == 302
    assert models.ClinicalNote.objects.count() == 0
    deleted = models.ClinicalNote.history.filter(id=note.id).first()
    assert deleted.history_type == "-" and deleted.history_user == author


def test_a_signed_note_cannot_be_discarded(client, author, patient):
    note = signed(author, patient)
    client.force_login(author)
    response = client.post(tool_url("discard", note.id), {})
    assert response.status_code == 200
    assert "cannot be deleted" in " ".join(response.context["form"].non_field_errors())
    assert models.ClinicalNote.objects.filter(pk=note.id).exists()


def test_notes_cannot_be_deleted_through_the_admin_delete_page(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    assert client.get(reverse("admin:clinical_notes_clinicalnote_delete", args=[note.id])).status_code == 403


def test_the_sign_action_signs_ones_own_drafts_and_reports_the_others(client, author, other_clinician, patient):
    mine = drafted(author, patient)
    theirs = drafted(other_clinician, patient)
    client.force_login(author)
    response = client.post(
        reverse("admin:clinical_notes_clinicalnote_changelist"),
        {"action": "sign_selected", "_selected_action": [str(mine.id), str(theirs.id)]},
        follow=True,
    )
    assert models.ClinicalNote.objects.get(pk=mine.id).status == "signed"
    assert models.ClinicalNote.objects.get(pk=theirs.id).status == "draft"
    assert any("Only the author, msmith" in message for message in messages_of(response))


def test_the_notes_list_shows_no_text_and_reads_no_encrypted_column(client, author, patient):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    signed(author, patient)
    client.force_login(author)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:clinical_notes_clinicalnote_changelist"))
    assert response.status_code == 200 and response.context["cl"].result_count == 1
    assert "Sleeping better." not in response.content.decode()
    listing = [
        q["sql"] for q in queries if 'FROM "clinical_notes_clinicalnote"' in q["sql"] and "subjective" in q["sql"]
    ]
    assert listing == []


def test_the_patient_page_lists_notes_without_text_or_psychotherapy_notes(client, author, patient):
    from clinical_notes import domain

    signed(author, patient, sections=None)
    drafted(author, patient, kind=domain.NoteKind.PSYCHOTHERAPY_NOTE)
    client.force_login(author)
    page = client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    assert page.status_code == 200
    inline = next(f for f in page.context["inline_admin_formsets"] if f.opts.model is models.ClinicalNote)
    assert [form.original.kind for form in inline] == ["progress_note"]
    assert "Sleeping better." not in page.content.decode()


def test_the_notes_listing_on_the_patient_page_needs_nothing_posted_back_and_saves_nothing(rf, author, patient):
    from django.contrib import admin as django_admin

    from clinical_notes.admin import PatientNoteInline
    from patients.models import Patient

    drafted(author, patient)
    request = rf.post("/", {"legal_first_name": "Robin"})
    request.user = author
    parent = Patient.objects.get(pk=patient.id)
    inline = PatientNoteInline(Patient, django_admin.site)
    formset = inline.get_formset(request, parent)(request.POST, request.FILES, instance=parent)
    assert formset.is_valid() and not formset.non_form_errors()
    assert formset.save() == [] and formset.new_objects == formset.changed_objects == []
    assert len(formset.forms) == 1


def test_a_garbage_or_unknown_note_id_is_a_404(client, author):
    client.force_login(author)
    for url in (
        "/admin/clinical_notes/clinicalnote/not-a-uuid/change/",
        "/admin/clinical_notes/clinicalnote/00000000-0000-0000-0000-000000000000/change/",
        "/admin/clinical_notes/clinicalnote/not-a-uuid/history/",
        "/admin/clinical_notes/clinicalnote/not-a-uuid/history/1/",
        "/admin/clinical_notes/clinicalnote/not-a-uuid/addendum/",
    ):
        assert client.get(url).status_code == 404, url


def test_a_stale_draft_edit_is_refused_and_the_first_edit_survives(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    assert client.post(change_url(note.id), form_data(patient, plan="First edit")).status_code == 302
    response = client.post(change_url(note.id), form_data(patient, plan="Second, stale edit", version="1"))
    assert response.status_code == 200
    assert "not saved" in " ".join(response.context["adminform"].form.non_field_errors())
    assert models.ClinicalNote.objects.get().plan == "First edit"


def test_the_author_restores_an_earlier_draft_version_from_the_history_page(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    client.post(change_url(note.id), form_data(patient, plan="Changed plan"))
    first = models.ClinicalNote.history.get(id=note.id, version=1)
    url = reverse("admin:clinical_notes_clinicalnote_simple_history", args=[note.id, first.history_id])
    assert client.get(url).context["revert_disabled"] is False
    response = client.post(
        url,
        form_data(
            patient,
            plan="Continue weekly sessions.",
            subjective="Sleeping better.",
            objective="Calm, good eye contact.",
            assessment="Improving.",
            version="2",
        ),
    )
    assert response.status_code == 302
    row = models.ClinicalNote.objects.get()
    assert row.plan == "Continue weekly sessions." and row.version == 3
    assert row.history.first().history_change_reason == "Restored an earlier version"
