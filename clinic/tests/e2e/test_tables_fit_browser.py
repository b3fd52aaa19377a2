"""At 1400 × 900, with the app list open, the widest lists fit the window and long text stays readable.

The notes list and the access log have the most columns; an emergency grant's reason is the
longest text a list shows. Each page must fit the window, each list its box (no scrolling
sideways), and the reason column must keep a readable width, not one character a line.
"""

import datetime as dt

from selenium.webdriver.common.by import By

from clinical_notes.tests.factories import drafted, make_clinician, signed
from conftest import make_staff
from novamind.tests.e2e import browser
from patients import domain as patients_domain
from patients import repository as patients_repository
from patients import services as patients_services

REASON = (
    "Patient in acute crisis at the front desk; their treating psychiatrist is on leave and the on-call "
    "clinician needs the medication list and the most recent risk assessment immediately."
)
READABLE = 120  # px: the narrowest a column of sentences may be


class TablesFitInTheBrowser(browser.AdminTestCase):
    def setUp(self):
        make_staff("root", superuser=True)
        author = make_clinician("drpatel")
        patient = patients_repository.DjangoPatientRepository(actor=author).add(
            patients_domain.Patient(
                legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17)
            )
        )
        signed(author, patient)
        drafted(author, patient)
        self.grant = patients_services.emergency_access_grant(
            patient_id=patient.id, reason=REASON, actor=make_clinician("drlee")
        )

    def open(self, path):
        self.driver.get(f"{self.live_server_url}{path}")
        return self.driver.execute_script(
            "return {page: document.documentElement.scrollWidth, window: window.innerWidth}"
        )

    def assert_fits(self, path):
        widths = self.open(path)
        assert widths["page"] <= widths["window"], f"{path}: the page is {widths['page']} px wide in {widths['window']}"
        box = self.driver.execute_script(
            "var r = document.querySelector('#changelist-form .results');"
            "return r && {table: r.scrollWidth, box: r.clientWidth}"
        )
        if box:
            assert box["table"] <= box["box"], f"{path}: the list is {box['table']} px wide in a {box['box']} px box"

    def width(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector).rect["width"]

    def test_the_widest_lists_and_the_grant_page_fit_1400_px_with_a_readable_reason(self):
        self.driver.set_window_size(1400, 900)
        self.sign_in("root")

        self.assert_fits("/admin/clinical_notes/clinicalnote/")
        assert self.driver.find_element(By.ID, "nav-sidebar").is_displayed()
        self.assert_fits("/admin/novamind/accesslogentry/")
        self.assert_fits("/admin/patients/emergencyaccessgrant/")
        reason = self.width("#result_list td.field-given_reason")
        assert reason > READABLE, f"the reason column is {reason} px wide"

        self.assert_fits(f"/admin/patients/emergencyaccessgrant/{self.grant.pk}/change/")
        reason = self.width(".field-given_reason .readonly")
        assert reason > READABLE, f"the reason is {reason} px wide"
