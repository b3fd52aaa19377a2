"""A clinician, in Chromium: draft a note, sign it, find it locked, add an addendum; a superuser
is turned away from someone's psychotherapy note."""

import datetime as dt

from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from clinical_notes import domain, models
from clinical_notes.tests.factories import a_diagnosis, make_clinician, signed, soap
from conftest import make_staff
from novamind.models import AccessLogEntry
from novamind.tests.e2e import browser
from patients import domain as patients_domain
from patients import repository as patients_repository


class ClinicalNotesInTheBrowser(browser.AdminTestCase):
    def setUp(self):
        self.author = make_clinician("drpatel")
        self.patient = patients_repository.DjangoPatientRepository(actor=self.author).add(
            patients_domain.Patient(
                legal_first_name="Robin",
                legal_last_name="Okafor",
                date_of_birth=dt.date(1990, 5, 17),
            )
        )
        self.diagnosis = a_diagnosis(self.author, self.patient)  # the note form starts with it chosen

    def test_draft_sign_lock_and_amend_a_note(self):
        driver = self.driver
        self.sign_in("drpatel")
        driver.get(f"{self.live_server_url}/admin/clinical_notes/clinicalnote/add/?patient={self.patient.id}")
        Select(driver.find_element(By.NAME, "kind")).select_by_visible_text("Progress note")
        Select(driver.find_element(By.NAME, "format")).select_by_visible_text("SOAP")
        self.fill("date_of_service", timezone.localdate().isoformat())
        self.fill("subjective", "Reports sleeping six hours.")
        self.fill("objective", "Calm, good eye contact.")
        self.fill("assessment", "Improving.")
        # Signing with an empty section is refused next to it, and nothing is saved.
        self.click_and_wait(driver.find_element(By.ID, "sign-note"))
        assert "before signing" in driver.find_element(By.CSS_SELECTOR, ".field-plan .errorlist").text
        assert models.ClinicalNote.objects.count() == 0

        self.fill("plan", "Continue weekly sessions.")
        self.click_and_wait(driver.find_element(By.ID, "sign-note"))
        assert "is signed and can no longer be changed" in self.message()
        note = models.ClinicalNote.objects.get()
        assert note.status == "signed" and note.signed_by == self.author
        assert note.to_domain().diagnosis_ids == {self.diagnosis.id}
        # The signed note is shown, read-only: no text box, no save or sign button.
        assert driver.find_elements(By.NAME, "plan") == [] and driver.find_elements(By.ID, "sign-note") == []
        assert "Continue weekly sessions." in driver.find_element(By.CSS_SELECTOR, ".field-plan").text

        self.click_and_wait(driver.find_element(By.LINK_TEXT, "ADD ADDENDUM"))
        self.fill("text", "Also reports fewer nightmares.")
        self.fill("reason", "Recalled after signing")
        self.click_and_wait(driver.find_element(By.NAME, "_confirm"))
        assert "Addendum added and signed." in self.message()
        assert "Also reports fewer nightmares." in driver.find_element(By.ID, "addenda-group").text
        assert models.ClinicalNote.objects.get().plan == "Continue weekly sessions."

    def test_a_superuser_is_turned_away_from_someone_elses_psychotherapy_note(self):
        note = signed(
            self.author,
            self.patient,
            kind=domain.NoteKind.PSYCHOTHERAPY_NOTE,
            sections=soap(subjective="Countertransference noted"),
        )
        make_staff("boss", superuser=True)
        self.sign_in("boss")
        self.driver.get(f"{self.live_server_url}/admin/clinical_notes/clinicalnote/{note.id}/change/")
        assert "can be read only by their author" in self.message()
        assert "Countertransference" not in self.driver.page_source
        assert AccessLogEntry.objects.filter(username="boss", outcome="refused", action="read").count() == 1
