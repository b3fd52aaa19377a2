"""A clinician, in Chromium, enters a PHQ-9 for a patient with six earlier scores, from the patient banner.

Back on the patient's page, the PHQ-9 chart (SVG drawn on the server) has the new, seventh point
with its band shading, and the same numbers are in the table for screen readers. A screenshot of
the page goes to test-results/screenshots/ with the other browser tests' (patient_measures.png), and one of
the entry form, filled in (measure_entry.png).
"""

import datetime as dt

from django.utils import timezone
from selenium.webdriver.common.by import By

from assessments import models
from assessments.tests import builders
from conftest import STAFF_PASSWORD, assign_care
from novamind import roles
from novamind.tests.e2e import browser
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository

EARLIER = (21, 18, 16, 13, 11, 9)  # monthly, the oldest first: a response to treatment
NEW_ANSWERS = {1: 1, 2: 1, 3: 1, 4: 1, 5: 0, 6: 0, 7: 1, 8: 0, 9: 0, 10: 1}  # 5: mild


class EnteringAPHQ9(browser.AdminTestCase):
    def setUp(self):
        root = superuser()
        self.clinician = member("drpatel", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "PhD"})
        self.clinician.first_name, self.clinician.last_name = "Priya", "Patel"
        self.clinician.set_password(STAFF_PASSWORD)
        self.clinician.save(update_fields=["first_name", "last_name", "password"])
        self.patient = patients_repository.DjangoPatientRepository(actor=root).add(
            patients_domain.Patient(
                legal_first_name="Samantha",
                legal_last_name="Rivera",
                preferred_name="Sam",
                pronouns="she/her",
                date_of_birth=dt.date(1990, 3, 14),
            )
        )
        assign_care(self.patient, self.clinician, by=root)
        for months_ago, total in zip(range(6, 0, -1), EARLIER, strict=True):
            builders.record(self.clinician, self.patient.id, total=total, days_ago=30 * months_ago)

    def markers(self):
        """Return the hover texts of the PHQ-9 chart's points, oldest first."""
        chart = self.driver.find_element(By.ID, "measure-chart-phq9")
        return [
            title.get_attribute("textContent") for title in chart.find_elements(By.CSS_SELECTOR, "g.series > g > title")
        ]

    def test_a_new_phq9_appears_on_the_chart_with_its_band_shading(self):
        driver = self.driver
        self.sign_in("drpatel")
        patient_page = f"{self.live_server_url}/admin/patients/patient/{self.patient.id}/change/"
        driver.get(patient_page)
        assert len(self.markers()) == 6

        self.click_and_wait(driver.find_element(By.ID, "banner-record-measure"))
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "PHQ-9"))
        assert "Sam (Samantha) Rivera" in driver.find_element(By.ID, "patient-banner").text
        for number, points in NEW_ANSWERS.items():
            radio = driver.find_element(By.CSS_SELECTOR, f"input[name='item_{number}'][value='{points}']")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", radio)
            radio.click()
        driver.execute_script("window.scrollTo(0, 0)")
        self.screenshot("measure_entry")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))

        assert driver.current_url == patient_page
        assert "was added successfully" in self.message()
        stored = models.Response.objects.order_by("-created_at").first().to_domain()
        assert (stored.total, stored.band, stored.administered_by) == (5, "mild", "drpatel")
        markers = self.markers()
        assert len(markers) == 7
        assert markers[-1] == f"PHQ-9, {timezone.localdate():%Y-%m-%d}: 5 (Mild); response"
        chart = driver.find_element(By.ID, "measure-chart-phq9")
        bands = chart.find_elements(By.CSS_SELECTOR, "g.bands rect")
        assert len(bands) == 5 and all(band.size["height"] > 0 for band in bands)
        table = driver.find_element(By.ID, "measure-chart-phq9-table").get_attribute("textContent")
        assert f"{timezone.localdate():%Y-%m-%d}" in table and "Mild" in table

        driver.execute_script("window.scrollTo(0, 0)")
        self.screenshot("patient_measures")
