"""Front desk in Chromium: book a visit (after a refused one), check it in, complete it; day sheet; cancel."""

import datetime as dt

from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from appointments import domain, models, services
from appointments.repository import DjangoAppointmentRepository
from appointments.tests.conftest import local, make_clinician, make_patient, make_room
from conftest import make_staff
from novamind.tests.e2e import browser


class AppointmentsInTheBrowser(browser.AdminTestCase):
    def setUp(self):
        self.desk = make_staff("frontdesk")
        self.clinician = make_clinician("drpatel", actor=self.desk)
        self.patient = make_patient(self.desk, legal_first_name="Amara", legal_last_name="Okafor")
        self.room = make_room(self.desk, "Room 2")

    def test_book_check_in_and_complete_a_visit(self):
        driver = self.driver
        self.sign_in("frontdesk")
        day = timezone.localtime(local(1)).strftime("%Y-%m-%d")

        driver.get(f"{self.live_server_url}/admin/appointments/appointment/add/")
        self.pick("patient", self.patient.mrn, typed=self.patient.mrn)
        self.pick("clinician", "Drpatel Drpatel, PhD")
        self.fill("start_0", day)
        self.fill("start_1", "10:00")
        self.fill("end_0", day)
        self.fill("end_1", "09:30")  # before the start
        self.pick("room", "Room 2")
        self.fill("reason_for_visit", "Follow-up, low mood")
        self.click_and_wait(driver.find_element(By.NAME, "_continue"))
        error = driver.find_element(By.CSS_SELECTOR, ".field-end .errorlist")
        assert "end after it starts" in error.text
        assert models.Appointment.objects.count() == 0

        self.fill("end_0", day)
        self.fill("end_1", "10:50")
        self.click_and_wait(driver.find_element(By.NAME, "_continue"))
        assert "was added successfully" in self.message()
        appointment = models.Appointment.objects.get()
        assert appointment.status == "scheduled" and appointment.created_by == self.desk

        # The status is not a form field; the buttons change it.
        assert not driver.find_elements(By.NAME, "status")
        self.click_and_wait(driver.find_element(By.ID, "appointment-check_in"))
        assert "checked in" in self.message()
        assert not driver.find_elements(By.ID, "appointment-check_in")
        self.click_and_wait(driver.find_element(By.ID, "appointment-complete"))
        assert "completed" in self.message()
        assert "Completed" in driver.find_element(By.CSS_SELECTOR, ".field-status .readonly").text
        assert not driver.find_elements(By.CSS_SELECTOR, ".object-tools form.appointment-action button")
        appointment.refresh_from_db()
        assert appointment.status == "completed" and appointment.checked_in_at is not None
        assert [h.history_user.username for h in appointment.history.all()] == ["frontdesk"] * 3

        # A second booking over the first is refused next to the clinician, naming the clash.
        driver.get(f"{self.live_server_url}/admin/appointments/appointment/add/")
        other = make_patient(self.desk)
        self.pick("patient", other.mrn, typed=other.mrn)
        self.pick("clinician", "Drpatel Drpatel, PhD")
        for name, value in (("start_0", day), ("start_1", "10:30"), ("end_0", day), ("end_1", "11:20")):
            self.fill(name, value)
        Select(driver.find_element(By.NAME, "modality")).select_by_value("telehealth")
        self.click_and_wait(driver.find_element(By.NAME, "_save"))
        clash = driver.find_element(By.CSS_SELECTOR, ".field-clinician .errorlist")
        assert "already booked" in clash.text and str(appointment.pk)[:8] in clash.text
        assert models.Appointment.objects.count() == 1

    def test_the_day_sheet_and_a_late_cancellation_with_a_reason(self):
        driver = self.driver
        repo = DjangoAppointmentRepository(actor=self.desk)
        soon = services.appointment_book(
            actor=repo.actor, appointment=_visit(self, timezone.now() + dt.timedelta(hours=2))
        )
        self.sign_in("frontdesk")

        driver.get(f"{self.live_server_url}/admin/appointments/appointment/")
        self.click_and_wait(driver.find_element(By.ID, "day-sheet-link"))
        self.pick("clinician", "Drpatel Drpatel, PhD")
        self.fill("date", timezone.localtime(soon.start).date().isoformat())
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#day-sheet-form input[type=submit]"))
        row = driver.find_element(By.CSS_SELECTOR, "#day-sheet tbody tr")
        assert "Amara Okafor" in row.text and self.patient.mrn in row.text and "Scheduled" in row.text

        self.click_and_wait(row.find_element(By.TAG_NAME, "a"))
        self.click_and_wait(driver.find_element(By.ID, "appointment-cancel"))
        assert "late cancellation" in driver.find_element(By.ID, "content-main").text
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#cancel-form input[name=_submit]"))
        assert "required" in driver.find_element(By.CSS_SELECTOR, ".field-reason .errorlist").text
        assert models.Appointment.objects.get(pk=soon.id).status == "scheduled"
        driver.find_element(By.CSS_SELECTOR, "input[name=by][value=patient]").click()
        self.fill("reason", "Car broke down")
        self.click_and_wait(driver.find_element(By.CSS_SELECTOR, "#cancel-form input[name=_submit]"))
        assert "cancelled by the patient (late)" in self.message().lower()
        cancelled = models.Appointment.objects.get(pk=soon.id)
        assert cancelled.status == "cancelled" and cancelled.late_cancellation


def _visit(test, start):
    return domain.Appointment(
        patient_id=test.patient.id,
        clinician_id=test.clinician.pk,
        start=start,
        end=start + dt.timedelta(minutes=50),
        room_id=test.room.pk,
    )
