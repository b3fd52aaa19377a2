"""The note form in staff's words: help that says the clinic's number of days."""

import pytest
from django.urls import reverse

from clinical_notes.tests.factories import signed

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
