"""A clinician, in Chromium: records a diagnosis from the patient banner by typing "major depressive"
into the code autocomplete and picking F32.1, then writes a progress note that addresses it and signs
it. A screenshot of the code search goes to test-results/screenshots/."""

from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from clinical_notes import models as notes_models
from conftest import STAFF_PASSWORD, assign_care
from diagnoses import models
from diagnoses.tests.conftest import make_patient
from novamind import roles
from novamind.tests.e2e import browser
from novamind.tests.integration.role_users import member, superuser

F32_1 = "F32.1 Major depressive disorder, single episode, moderate"


class DiagnosesInTheBrowser(browser.AdminTestCase):
    def setUp(self):
        self.clinician = member("drokafor", roles.CLINICIAN, profile={"credentials": "LCSW", "is_clinician": True})
        self.clinician.set_password(STAFF_PASSWORD)
        self.clinician.save(update_fields=["password"])
        self.patient = make_patient(superuser(), "Rivera", first_name="Sam")
        assign_care(self.patient, self.clinician)

    def banner(self) -> str:
        return self.driver.find_element(By.ID, "patient-banner").text

    def pick_code(self, typed, code):
        """Type `typed` in the code's autocomplete and click the hit for `code`, as staff do."""
        driver = self.driver
        driver.find_element(By.CSS_SELECTOR, ".field-code .select2-selection").click()
        driver.find_element(By.CSS_SELECTOR, ".select2-search__field").send_keys(typed)
        hit = (
            By.XPATH,
            f"//li[contains(@class, 'select2-results__option') and starts-with(normalize-space(.), '{code} ')]",
        )
        WebDriverWait(driver, 15).until(lambda d: d.find_elements(*hit))
        self.screenshot("diagnosis_code_search")
        # The result list is redrawn as the search answers; retry a click that lands on an old one.
        WebDriverWait(driver, 15, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: d.find_element(*hit).click() or True
        )
        WebDriverWait(driver, 15).until(
            lambda d: code in d.find_element(By.CSS_SELECTOR, ".field-code .select2-selection").text
        )

    def test_record_a_diagnosis_by_searching_major_depressive_then_sign_a_note_addressing_it(self):
        driver = self.driver
        self.sign_in("drokafor")
        patient_page = f"/admin/patients/patient/{self.patient.id}/change/"
        driver.get(self.live_server_url + patient_page)
        assert "None on the problem list" in self.banner()

        self.click_and_wait(driver.find_element(By.ID, "banner-record-diagnosis"))
        self.pick_code("major depressive", "F32.1")
        assert F32_1 in driver.find_element(By.CSS_SELECTOR, ".field-code .select2-selection").text
        self.fill("specifier", "with anxious distress")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))

        assert driver.current_url.endswith(patient_page)  # back to the patient, from the banner's action
        assert F32_1 in self.banner()
        diagnosis = models.Diagnosis.objects.get()
        assert (diagnosis.code, diagnosis.specifier, diagnosis.created_by) == (
            "F32.1",
            "with anxious distress",
            self.clinician,
        )

        self.click_and_wait(driver.find_element(By.ID, "banner-new-note"))
        choice = driver.find_element(By.CSS_SELECTOR, f".field-diagnoses input[value='{diagnosis.pk}']")
        assert choice.is_selected()  # the only diagnosis on the list, chosen already
        assert F32_1 in driver.find_element(By.CSS_SELECTOR, ".field-diagnoses").text
        self.fill("date_of_service", timezone.localdate().isoformat())
        self.fill("subjective", "Low mood most days; sleeping five hours.")
        self.fill("objective", "Tearful at times, good eye contact.")
        self.fill("assessment", "Moderate depressive symptoms; no safety concerns today.")
        self.fill("plan", "Weekly CBT; behavioural activation.")
        self.click_and_wait(driver.find_element(By.ID, "sign-note"))

        note = notes_models.ClinicalNote.objects.get()
        assert (note.status, note.kind) == ("signed", "progress_note")
        assert [d.code for d in note.to_domain().diagnoses] == ["F32.1"]
        assert note.content_hash == note.to_domain().compute_hash()
        driver.get(f"{self.live_server_url}/admin/clinical_notes/clinicalnote/{note.pk}/change/")
        assert F32_1 in driver.find_element(By.CSS_SELECTOR, ".field-diagnoses_addressed").text
