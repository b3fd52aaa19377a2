"""A psychiatrist, in Chromium: record an allergy, prescribe over it, revise the dose, discontinue."""

import datetime as dt

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from medications import models
from medications.tests.conftest import make_prescriber
from novamind.tests.e2e import browser
from patients import domain as patients_domain
from patients import repository as patients_repository


class PrescribingInTheBrowser(browser.AdminTestCase):
    def choose(self, name, label):
        Select(self.driver.find_element(By.NAME, name)).select_by_visible_text(label)

    def test_allergy_override_revision_and_discontinuation_read_as_a_timeline(self):
        drlee = make_prescriber("drlee")
        patient = patients_repository.DjangoPatientRepository(actor=drlee).add(
            patients_domain.Patient(
                legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17)
            )
        )
        driver, base = self.driver, self.live_server_url
        self.sign_in("drlee")

        # The allergy list is on the patient's page.
        driver.get(f"{base}/admin/patients/patient/{patient.id}/change/")
        self.fill("allergies-0-substance", "SSRIs")
        self.fill("allergies-0-reaction", "serotonin syndrome")
        self.choose("allergies-0-severity", "Severe")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))
        assert "was changed successfully" in self.message()
        assert models.Allergy.objects.get().created_by == drlee

        # Prescribe from the patient's page: the allergy check answers next to the override field.
        driver.get(f"{base}/admin/patients/patient/{patient.id}/change/")
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "Prescribe a medication for this patient"))
        self.fill("drug_name", "Zoloft")
        self.fill("strength", "50 mg")
        self.choose("dose_form", "tablet")
        self.fill("dose_amount", "50")
        self.choose("dose_unit", "mg")
        self.choose("route", "by mouth")
        self.choose("frequency_kind", "once daily")
        self.fill("quantity", "30")
        self.fill("refills", "2")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))
        error = driver.find_element(By.CSS_SELECTOR, ".field-allergy_override_reason .errorlist").text
        assert "matches the recorded allergy to “SSRIs” (severe: serotonin syndrome)" in error
        assert models.MedicationOrder.objects.count() == 0

        self.fill("allergy_override_reason", "Took sertraline for two years without reaction; allergy entry disputed.")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))
        assert "was added successfully" in self.message()
        first = models.MedicationOrder.objects.get()
        assert first.prescriber == drlee and first.allergy_override_reason.startswith("Took sertraline")

        # The order's page is read-only; the dose changes through Revise.
        driver.get(f"{base}/admin/medications/medicationorder/{first.pk}/change/")
        assert not driver.find_elements(By.NAME, "_save")
        self.click_and_wait(driver.find_element(By.ID, "revise-order"))
        self.fill("dose_amount", "100")
        self.fill("quantity", "60")
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#revise_form input[type=submit]"))
        assert "the revised order is" in self.message()
        second = models.MedicationOrder.objects.get(replaces=first)
        assert f"order {str(first.pk)[:8]}" in driver.find_element(By.CSS_SELECTOR, ".field-timeline").text

        driver.get(f"{base}/admin/patients/patient/{patient.id}/change/")
        current = driver.find_element(By.ID, "medication_orders-group").text
        assert "100 mg by mouth once daily" in current and "50 mg by mouth" not in current

        # Discontinue, with a reason; the order leaves the current list and stays in the history.
        driver.get(f"{base}/admin/medications/medicationorder/{second.pk}/change/")
        self.click_and_wait(driver.find_element(By.ID, "discontinue-order"))
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#discontinue_form input[type=submit]"))
        assert "discontinue_reason" in driver.find_element(By.CSS_SELECTOR, ".field-discontinue_reason").get_attribute(
            "class"
        )
        assert driver.find_element(By.CSS_SELECTOR, ".field-discontinue_reason .errorlist").text
        self.choose("discontinue_reason", "Adverse effect")
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#discontinue_form input[type=submit]"))
        assert "was discontinued" in self.message()
        second.refresh_from_db()
        assert second.status == "discontinued" and second.discontinue_reason == "adverse_effect"

        driver.get(f"{base}/admin/patients/patient/{patient.id}/change/")
        history = driver.find_element(By.ID, "medication_orders-2-group")
        history.find_element(By.TAG_NAME, "summary").click()
        rows = history.find_elements(By.CSS_SELECTOR, "tbody tr.has_original")
        assert len(rows) == 2
        assert "Changed (replaced by a revised order)" in rows[0].text and "Adverse effect" in rows[1].text
