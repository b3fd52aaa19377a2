"""A member of staff, in Chromium: sign in, register a patient, edit, search, read the history."""

from selenium.webdriver.common.by import By

from conftest import make_staff
from novamind.tests.e2e import browser
from patients import models


class PatientAdminInTheBrowser(browser.AdminTestCase):
    def submit(self, name="_save"):
        self.click_and_wait(self.driver.find_element(By.NAME, name))

    def test_register_edit_search_and_read_the_history_of_a_patient(self):
        make_staff("frontdesk")
        driver = self.driver
        self.sign_in("frontdesk")

        driver.get(f"{self.live_server_url}/admin/patients/patient/add/")
        self.fill("legal_first_name", "Zoë")
        self.fill("legal_last_name", "O'Brien")
        self.fill("date_of_birth", "2999-01-01")
        self.fill("phone", "(617) 555-0134")
        self.submit()
        # The domain rule is shown next to its field, and nothing was saved.
        error = driver.find_element(By.CSS_SELECTOR, ".field-date_of_birth .errorlist")
        assert error.text.startswith("Enter a date no later than")
        assert models.Patient.objects.count() == 0

        self.fill("date_of_birth", "1984-02-29")
        self.submit()
        assert "was added successfully" in self.message()
        patient = models.Patient.objects.get()
        assert patient.phone == "+16175550134"

        driver.get(f"{self.live_server_url}/admin/patients/patient/{patient.pk}/change/")
        self.fill("email", "zoe@example.com")
        self.submit()
        assert "was changed successfully" in self.message()

        driver.get(f"{self.live_server_url}/admin/patients/patient/")
        self.fill("q", "zoe obrien")
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) == 1 and patient.mrn in rows[0].text and "Zoë O'Brien" in rows[0].text

        self.click_and_wait(rows[0].find_element(By.LINK_TEXT, patient.mrn))
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "HISTORY"))
        history = driver.find_element(By.ID, "change-history").text
        assert history.count("frontdesk") == 2
        assert "E-mail" in history or "e-mail" in history.lower()
