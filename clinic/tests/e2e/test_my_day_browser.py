"""A clinician, in Chromium: from today's appointment on the index, check the patient in, write
the note and sign it — counting the clicks (issue 17: at most five) — and the index as a
practice manager sees it. Screenshots of both go to test-results/screenshots/."""

import datetime as dt
import pathlib

from django.utils import timezone
from selenium.webdriver.common.by import By

from appointments.tests.conftest import make_patient, make_room
from clinic.tests.integration.test_dashboard import Clinic
from clinical_notes import models as notes_models
from conftest import STAFF_PASSWORD, assign_care, make_staff
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from novamind import roles
from novamind.tests.e2e import browser
from novamind.tests.integration.role_users import member

MOST_CLICKS = 5  # the target for writing and signing a note from today's appointment
SCREENSHOTS = pathlib.Path("test-results/screenshots")


def screenshot(driver, name: str) -> None:
    """Save the whole page as test-results/screenshots/<name>.png (CI keeps the folder)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(height, 4000)))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


class MyDayInTheBrowser(browser.AdminTestCase):
    def setUp(self):
        self.manager = make_staff("manager")
        self.clinician = member("drokafor", roles.CLINICIAN, profile={"credentials": "LCSW", "is_clinician": True})
        self.clinician.set_password(STAFF_PASSWORD)
        self.clinician.save(update_fields=["password"])
        clinic = Clinic(self.manager, make_room(self.manager, "Room 1"))
        self.patient = make_patient(self.manager, legal_first_name="Robin", legal_last_name="Okafor")
        assign_care(self.patient, self.clinician, by=self.manager)
        # The patient's problem list: the note form starts with its primary diagnosis chosen.
        self.diagnosis = diagnoses_services.diagnosis_record(
            diagnosis=diagnoses_domain.Diagnosis(patient_id=self.patient.id, code="F41.1", is_primary=True),
            actor=self.clinician,
        )
        start = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(9)))
        self.visit = clinic.book(self.clinician, self.patient, start)
        clinic.completed(self.clinician, self.patient, start - dt.timedelta(weeks=1))

    def click(self, element):
        self.clicks += 1
        self.click_and_wait(element)

    def test_check_in_write_and_sign_the_note_from_my_day_in_five_clicks(self):
        driver = self.driver
        self.sign_in("drokafor")
        my_day = driver.find_element(By.ID, "dashboard-my-day")
        assert self.patient.mrn in my_day.text and "Scheduled" in my_day.text
        screenshot(driver, "dashboard_my_day")
        self.clicks = 0

        self.click(my_day.find_element(By.XPATH, ".//button[normalize-space()='Check in']"))
        assert "Checked in" in driver.find_element(By.ID, "dashboard-my-day").text
        self.click(driver.find_element(By.CSS_SELECTOR, "#dashboard-my-day a.write-note"))
        self.fill("subjective", "Reports sleeping six hours.")
        self.fill("objective", "Calm, good eye contact.")
        self.fill("assessment", "Improving.")
        self.fill("plan", "Continue weekly sessions.")
        self.click(driver.find_element(By.ID, "sign-note"))

        assert "is signed and can no longer be changed" in self.message()
        assert self.clicks <= MOST_CLICKS, f"{self.clicks} clicks, the target is {MOST_CLICKS}"
        note = notes_models.ClinicalNote.objects.get()
        assert (note.patient_id, note.status, note.kind, note.date_of_service) == (
            self.patient.id,
            "signed",
            "progress_note",
            timezone.localdate(),
        )
        assert note.to_domain().diagnosis_ids == {self.diagnosis.id}

    def test_the_practice_manager_sees_the_clinics_day(self):
        self.sign_in("manager")
        schedule = self.driver.find_element(By.ID, "dashboard-schedule").text
        assert "LCSW" in schedule and self.patient.mrn in schedule
        assert self.driver.find_element(By.ID, "dashboard-trend").is_displayed()
        screenshot(self.driver, "dashboard")
