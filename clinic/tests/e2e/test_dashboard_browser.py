"""A practice manager, in Chromium: sign in and read the clinic dashboard's twelve-week chart."""

import datetime as dt

from django.utils import timezone
from selenium.webdriver.common.by import By

from appointments.tests.conftest import make_clinician, make_patient, make_room
from clinic.tests.integration.test_dashboard import Clinic
from conftest import make_staff
from novamind.tests.e2e import browser


class DashboardInTheBrowser(browser.AdminTestCase):
    def test_the_index_shows_the_trend_chart_with_last_weeks_visits(self):
        manager = make_staff("manager")
        clinic = Clinic(manager, make_room(manager, "Room 1"))
        clinician = make_clinician("drwho", actor=manager)
        patient = make_patient(manager, legal_first_name="Zebulon", legal_last_name="Quagmire")
        last_week = timezone.localdate() - dt.timedelta(days=7)
        start = timezone.make_aware(dt.datetime.combine(last_week, dt.time(10)))
        clinic.completed(clinician, patient, start)
        clinic.no_show(clinician, patient, start + dt.timedelta(hours=2))

        driver = self.driver
        self.sign_in("manager")

        chart = driver.find_element(By.CSS_SELECTOR, "#dashboard-trend svg.trend-chart")
        assert chart.is_displayed() and chart.size["width"] > 300
        series = {g.get_attribute("data-series") for g in chart.find_elements(By.CSS_SELECTOR, "g.series")}
        assert len(series) == 3, series
        # The chart's data table says what the lines show: last week, one visit and one no-show.
        monday = (last_week - dt.timedelta(days=last_week.weekday())).isoformat()
        rows = {
            row.find_element(By.TAG_NAME, "th").get_attribute("textContent").strip(): [
                cell.get_attribute("textContent").strip() for cell in row.find_elements(By.TAG_NAME, "td")
            ]
            for row in driver.find_elements(By.CSS_SELECTOR, "#dashboard-trend table tbody tr")
        }
        assert len(rows) == 12 and rows[monday] == ["1", "0", "1"], rows
        assert "Quagmire" not in driver.page_source and "Zebulon" not in driver.page_source
