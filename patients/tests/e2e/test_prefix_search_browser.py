"""The front desk, in Chromium: find a patient by the first letters of the last name and the birth year."""

import datetime as dt

from selenium.webdriver.common.by import By

from conftest import make_staff
from novamind.tests.e2e import browser
from patients import domain, repository

MOST_CLICKS = 3  # open the patient list, search, open the patient


class PrefixSearchInTheBrowser(browser.AdminTestCase):
    clicks = 0

    def click(self, element):
        """Click something that loads a page, counting the click: the workflow has a budget."""
        self.clicks += 1
        self.click_and_wait(element)

    def test_prefix_search_finds_a_patient_by_the_first_3_letters_of_the_last_name_plus_birth_year(self):
        desk = make_staff("frontdesk")
        patients = repository.DjangoPatientRepository(actor=desk)
        wanted = patients.add(
            domain.Patient(legal_first_name="Olivia", legal_last_name="García", date_of_birth=dt.date(1984, 3, 2))
        )
        for first, last, born in (
            ("Omar", "Garcia", dt.date(1979, 11, 30)),  # the same prefix, another year
            ("Oscar", "Gardner", dt.date(1990, 7, 1)),
            ("Ana", "Okafor", dt.date(1984, 5, 5)),  # the same year, another name
        ):
            patients.add(domain.Patient(legal_first_name=first, legal_last_name=last, date_of_birth=born))
        driver = self.driver
        self.sign_in("frontdesk")

        self.click(driver.find_element(By.CSS_SELECTOR, "a[href$='/admin/patients/patient/']"))
        self.fill("q", "gar 1984")
        self.click(driver.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert (
            len(rows) == 1 and wanted.mrn in rows[0].text and "Olivia García" in rows[0].text
        )  # the list names patients first name first (patients.display)

        self.click(rows[0].find_element(By.LINK_TEXT, wanted.mrn))
        assert driver.find_element(By.NAME, "legal_last_name").get_attribute("value") == "García"
        assert driver.find_element(By.NAME, "date_of_birth").get_attribute("value") == "1984-03-02"
        assert self.clicks <= MOST_CLICKS, f"{self.clicks} clicks to find a patient, more than {MOST_CLICKS}"
