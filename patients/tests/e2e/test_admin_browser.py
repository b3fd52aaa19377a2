"""A member of staff, in Chromium: sign in, register a patient, edit, search, read the history."""

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from conftest import make_staff
from patients import models

PASSWORD = "correct horse battery staple"


@pytest.mark.browser
class PatientAdminInTheBrowser(StaticLiveServerTestCase):
    host = "127.0.0.1"

    @pytest.fixture(autouse=True)
    def _driver(self, chrome_driver_factory):
        self.driver = chrome_driver_factory()
        yield
        self.driver.quit()

    def fill(self, name, value):
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def click_and_wait(self, element):
        """Click something that loads a new page, and wait until the old page is gone."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, 30).until(expected_conditions.staleness_of(page))

    def submit(self, name="_save"):
        self.click_and_wait(self.driver.find_element(By.NAME, name))

    def test_register_edit_search_and_read_the_history_of_a_patient(self):
        make_staff("frontdesk")
        driver = self.driver
        driver.get(f"{self.live_server_url}/admin/login/")
        self.fill("username", "frontdesk")
        self.fill("password", PASSWORD)
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))
        assert "Clinic back-office" in driver.page_source

        driver.get(f"{self.live_server_url}/admin/patients/patient/add/")
        self.fill("legal_first_name", "Zoë")
        self.fill("legal_last_name", "O'Brien")
        self.fill("date_of_birth", "2999-01-01")
        self.fill("phone", "(617) 555-0134")
        self.submit()
        # The domain rule is shown next to its field, and nothing was saved.
        error = driver.find_element(By.CSS_SELECTOR, ".field-date_of_birth .errorlist")
        assert "future" in error.text
        assert models.Patient.objects.count() == 0

        self.fill("date_of_birth", "1984-02-29")
        self.submit()
        assert "was added successfully" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text
        patient = models.Patient.objects.get()
        assert patient.phone == "+16175550134"

        driver.get(f"{self.live_server_url}/admin/patients/patient/{patient.pk}/change/")
        self.fill("email", "zoe@example.com")
        self.submit()
        assert "was changed successfully" in driver.find_element(By.CSS_SELECTOR, ".messagelist").text

        driver.get(f"{self.live_server_url}/admin/patients/patient/")
        self.fill("q", "zoe obrien")
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) == 1 and patient.mrn in rows[0].text and "O'Brien, Zoë" in rows[0].text

        self.click_and_wait(rows[0].find_element(By.LINK_TEXT, patient.mrn))
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "HISTORY"))
        history = driver.find_element(By.ID, "change-history").text
        assert history.count("frontdesk") == 2
        assert "E-mail" in history or "e-mail" in history.lower()
