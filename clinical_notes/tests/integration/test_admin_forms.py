"""The note form in staff's words: help that says the clinic's number, a save with no change writes nothing."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from clinical_notes import models
from clinical_notes.tests.factories import drafted, signed
from medications.tests.pages import form_data

pytestmark = pytest.mark.django_db


def change_url(note_id):
    return reverse("admin:clinical_notes_clinicalnote_change", args=[note_id])


def test_the_late_entry_help_says_the_clinics_number_of_days_not_a_setting_name(client, author, patient, settings):
    note = signed(author, patient)
    client.force_login(author)
    settings.NOVAMIND_LATE_ENTRY_DAYS = 5
    page = client.get(change_url(note.id)).content.decode()
    assert "Signed more than 5 days after the date of service." in page
    assert "NOVAMIND_" not in page
    settings.NOVAMIND_LATE_ENTRY_DAYS = 1
    assert "Signed more than 1 day after the date of service." in client.get(change_url(note.id)).content.decode()


def test_saving_a_draft_without_changes_writes_nothing(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    page = client.get(change_url(note.id))
    logged = LogEntry.objects.count()
    assert client.post(change_url(note.id), form_data(page)).status_code == 302
    row = models.ClinicalNote.objects.get()
    assert row.version == 1 and row.history.count() == 1 and LogEntry.objects.count() == logged


def test_save_and_sign_without_changes_still_signs(client, author, patient):
    note = drafted(author, patient)
    client.force_login(author)
    page = client.get(change_url(note.id))
    assert client.post(change_url(note.id), {**form_data(page), "_sign": "Save and sign"}).status_code == 302
    row = models.ClinicalNote.objects.get()
    assert row.status == "signed" and row.history.first().history_change_reason.startswith("Signed")
