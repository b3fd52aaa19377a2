"""A clinician's problem list to plan, in Chromium, as one visit: from the patient banner they record a
diagnosis by typing "major depressive" into the code search and picking F32.1; write a progress note
that addresses it and sign it; write a treatment plan on it with one goal and two objectives and sign
it; revise it (the first version then reads as superseded); and from the signed note's page record
progress on the current plan. Screenshots of the code search, the signed plan and the draft of its
next version go to test-results/screenshots/."""

import datetime as dt

from django.utils import timezone
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from clinical_notes import models as notes_models
from conftest import STAFF_PASSWORD, assign_care
from diagnoses import models as diagnoses_models
from novamind import roles
from novamind.tests.e2e import browser
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository
from treatment_plans import models

F32_1 = "F32.1 Major depressive disorder, single episode, moderate"


class FromTheProblemListToATreatmentPlan(browser.AdminTestCase):
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

    def fill_row(self, prefix, **values):
        for name, value in values.items():
            self.fill(f"{prefix}-{name}", value)

    def save_and_sign(self):
        self.click_and_wait(self.driver.find_element(By.ID, "sign-plan"))

    def test_diagnosis_by_search_then_a_note_on_it_then_a_plan_signed_and_revised(self):
        driver, base = self.driver, self.live_server_url
        patient_page = f"/admin/patients/patient/{self.patient.id}/change/"
        target = (timezone.localdate() + dt.timedelta(days=60)).isoformat()
        self.sign_in("drpatel")

        # 1. The diagnosis, from the banner, by searching the code set in words.
        driver.get(base + patient_page)
        assert "None on the problem list" in self.banner()
        self.click_and_wait(driver.find_element(By.ID, "banner-record-diagnosis"))
        self.pick_code("major depressive", "F32.1")
        self.fill("specifier", "with anxious distress")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))
        assert driver.current_url.endswith(patient_page)  # back to the patient, from the banner's action
        assert F32_1 in self.banner()
        diagnosis = diagnoses_models.Diagnosis.objects.get()
        assert (diagnosis.code, diagnosis.specifier, diagnosis.created_by) == (
            "F32.1",
            "with anxious distress",
            self.clinician,
        )

        # 2. A progress note addressing it, signed: the codes are in its content hash.
        self.click_and_wait(driver.find_element(By.ID, "banner-new-note"))
        choice = driver.find_element(By.CSS_SELECTOR, f".field-diagnoses input[value='{diagnosis.pk}']")
        assert choice.is_selected()  # the only diagnosis on the list, chosen already
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

        # 3. The plan on that diagnosis: one goal, two objectives, one intervention; signed.
        driver.get(base + patient_page)
        assert "no current plan" in driver.find_element(By.ID, "banner-treatment-plan").text
        self.click_and_wait(driver.find_element(By.ID, "banner-new-plan"))
        self.fill("problems", "I can't get out of bed and I've stopped seeing friends.")
        driver.find_element(By.CSS_SELECTOR, f"input[name=diagnoses_addressed][value='{diagnosis.pk}']").click()
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
        assert "Version 1 · Current (signed)" in page and "1.2 PHQ-9 below 10." in page and F32_1 in page
        assert "review due" in driver.find_element(By.ID, "banner-treatment-plan").text
        self.screenshot("treatment_plan")

        # 4. Revised: the next version is a draft copied from it; the first stays current meanwhile.
        self.click_and_wait(driver.find_element(By.ID, "plan-revise"))
        self.click_and_wait(driver.find_element(By.ID, "plan-confirm"))
        assert "Version 2 is a draft copied from the current plan" in self.message()
        first.refresh_from_db()
        assert first.status == models.SIGNED
        self.screenshot("treatment_plan_draft")
        self.fill("objectives-1-text", "PHQ-9 below 5.")
        self.save_and_sign()
        assert "Version 2 is signed and is the current plan" in self.message()
        self.click_and_wait(driver.find_element(By.LINK_TEXT, "the previous version"))
        page = driver.find_element(By.ID, "content-main").text
        assert "Version 1 · Superseded by a later version" in page and "superseded by the next version" in page
        assert not driver.find_elements(By.ID, "plan-revise")  # only the current plan is revised
        statuses = dict(models.TreatmentPlan.objects.values_list("version_number", "status"))
        assert statuses == {1: models.SUPERSEDED, 2: models.SIGNED}

        # 5. From the signed note's page: progress on the current plan's objectives.
        driver.get(f"{base}/admin/clinical_notes/clinicalnote/{note.pk}/change/")
        tool = driver.find_element(By.XPATH, "//a[normalize-space(.)='Record progress on the treatment plan']")
        self.click_and_wait(tool)
        current = models.TreatmentPlan.objects.get(version_number=2)
        assert f"/treatmentplan/{current.pk}/progress/" in driver.current_url
        assert Select(driver.find_element(By.NAME, "note")).first_selected_option.get_attribute("value") == str(note.pk)
        Select(driver.find_element(By.NAME, "status_0")).select_by_value("in_progress")
        self.click_and_wait(driver.find_element(By.ID, "plan-confirm"))
        progress = models.ObjectiveProgress.objects.get()
        assert (progress.note_id, progress.status, progress.objective.plan_id) == (note.pk, "in_progress", current.pk)
