"""In Chromium: a patient's page saved as it was shown writes nothing, whatever the browser sends back."""

import datetime as dt

from selenium.webdriver.common.by import By

from conftest import make_staff
from novamind.tests.e2e import browser
from patients import domain, models, repository


class UnchangedSaveInTheBrowser(browser.AdminTestCase):
    def test_saving_a_patient_without_changing_anything_writes_nothing(self):
        desk = make_staff("frontdesk")
        patient = repository.DjangoPatientRepository(actor=desk).add(
            domain.Patient(
                legal_first_name="Zoë",
                legal_last_name="O'Brien",
                date_of_birth=dt.date(1984, 2, 29),
                phone="(617) 555-0134",
                address=domain.Address(line1="12 Elm Ave", line2="Apt 3\nRear entrance"),
            )
        )
        self.sign_in("frontdesk")
        self.driver.get(f"{self.live_server_url}/admin/patients/patient/{patient.id}/change/")
        self.click_and_wait(self.driver.find_element(By.NAME, "_save"))
        assert "No changes to save" in self.message()
        row = models.Patient.objects.get()
        assert row.version == 1 and row.history.count() == 1
