"""A clinician, in Chromium: from the patient banner, a treatment plan with one goal and two objectives
for a patient with a diagnosis, signed; then revised, and once the new version is signed the first
one reads as superseded. Screenshots of the signed plan and of the draft of its next version go to
test-results/screenshots/."""

import datetime as dt

from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from conftest import STAFF_PASSWORD, assign_care
from novamind import roles
from novamind.tests.e2e import browser
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository
from treatment_plans import models
from treatment_plans.tests import factories


class WritingATreatmentPlan(browser.AdminTestCase):
    def setUp(self):
        self.clinician = member("drpatel", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "PhD"})
        self.clinician.first_name, self.clinician.last_name = "Priya", "Patel"
        self.clinician.set_password(STAFF_PASSWORD)
        self.clinician.save(update_fields=["first_name", "last_name", "password"])
        root = superuser()
        self.patient = patients_repository.DjangoPatientRepository(actor=root).add(
            patients_domain.Patient(
                legal_first_name="Robin", legal_last_name="Okafor", date_of_birth=dt.date(1990, 5, 17)
            )
        )
        assign_care(self.patient, self.clinician, by=root)
        self.diagnosis = factories.a_diagnosis(self.patient, actor=self.clinician, code="F32.1")

    def fill_row(self, prefix, **values):
        for name, value in values.items():
            self.fill(f"{prefix}-{name}", value)

    def save_and_sign(self):
        self.click_and_wait(self.driver.find_element(By.ID, "sign-plan"))

    def test_a_plan_with_one_goal_and_two_objectives_is_signed_then_revised_into_a_timeline(self):
        driver, base = self.driver, self.live_server_url
        target = (timezone.localdate() + dt.timedelta(days=60)).isoformat()
        self.sign_in("drpatel")

        # From the patient's banner: the plan's form, for this patient, offering their diagnosis.
        driver.get(f"{base}/admin/patients/patient/{self.patient.id}/change/")
        assert "no current plan" in driver.find_element(By.ID, "banner-treatment-plan").text
        self.click_and_wait(driver.find_element(By.ID, "banner-new-plan"))
        self.fill("problems", "I can't get out of bed and I've stopped seeing friends.")
        driver.find_element(By.CSS_SELECTOR, f"input[name=diagnoses_addressed][value='{self.diagnosis.pk}']").click()
        self.fill_row("goals-0", text="Get back to the things I enjoyed.")
        self.fill_row("objectives-0", text="One planned pleasant activity 3 times a week.", target_date=target)
        self.fill_row("objectives-1", text="PHQ-9 below 10.", target_date=target)
        self.fill_row("interventions-0", modality="Individual CBT", frequency="Weekly, 50 minutes")
        Select(driver.find_element(By.NAME, "interventions-0-clinician")).select_by_visible_text("Priya Patel, PhD")
        self.save_and_sign()

        assert "Version 1 is signed and is the current plan" in self.message()
        first = models.TreatmentPlan.objects.get()
        assert first.status == models.SIGNED and first.objectives.count() == 2 and first.goals.count() == 1
        page = driver.find_element(By.ID, "content-main").text
        assert "Version 1 · Current (signed)" in page and "1.2 PHQ-9 below 10." in page
        assert "F32.1 Major depressive disorder, single episode, moderate" in page
        assert "review due" in driver.find_element(By.ID, "banner-treatment-plan").text
        self.screenshot("treatment_plan")

        # Revise: the next version is a draft copied from it; the first stays current meanwhile.
        self.click_and_wait(driver.find_element(By.ID, "plan-revise"))
        self.click_and_wait(driver.find_element(By.ID, "plan-confirm"))
        assert "Version 2 is a draft copied from the current plan" in self.message()
        first.refresh_from_db()
        assert first.status == models.SIGNED
        self.screenshot("treatment_plan_draft")
        self.fill("objectives-1-text", "PHQ-9 below 5.")
        self.save_and_sign()
        assert "Version 2 is signed and is the current plan" in self.message()

        # The first version now reads as superseded, linked to the version that replaced it.
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "the previous version"))
        page = driver.find_element(By.ID, "content-main").text
        assert "Version 1 · Superseded by a later version" in page and "superseded by the next version" in page
        assert not driver.find_elements(By.ID, "plan-revise")  # only the current plan is revised
        statuses = dict(models.TreatmentPlan.objects.values_list("version_number", "status"))
        assert statuses == {1: models.SUPERSEDED, 2: models.SIGNED}
