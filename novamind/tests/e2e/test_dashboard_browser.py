"""A practice manager, in Chromium: sign in and read the clinic dashboard's twelve-week chart."""

import datetime as dt

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from appointments.tests.conftest import make_clinician, make_patient, make_room
from conftest import make_staff
from novamind.tests.integration.test_dashboard import Clinic

PASSWORD = "correct horse battery staple"


@pytest.mark.browser
class DashboardInTheBrowser(StaticLiveServerTestCase):
    host = "127.0.0.1"

    @pytest.fixture(autouse=True)
    def _driver(self, chrome_driver_factory):
        self.driver = chrome_driver_factory()
        yield
        self.driver.quit()

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
        driver.get(f"{self.live_server_url}/admin/login/")
        driver.find_element(By.NAME, "username").send_keys("manager")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        page = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))

        chart = driver.find_element(By.CSS_SELECTOR, "#dashboard-trend svg.trend-chart")
        assert chart.is_displayed() and chart.size["width"] > 300
        series = {g.get_attribute("data-series") for g in chart.find_elements(By.CSS_SELECTOR, "g.series")}
        assert len(series) == 3, series
        # The chart's data table says what the lines show: last week, one visit and one no-show.
        monday = (last_week - dt.timedelta(days=last_week.weekday())).isoformat()
        rows = {
            row.find_element(By.TAG_NAME, "th").get_attribute("textContent").strip():
            [cell.get_attribute("textContent").strip() for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "#dashboard-trend table tbody tr")
        }
        assert len(rows) == 12 and rows[monday] == ["1", "0", "1"], rows
        assert "Quagmire" not in driver.page_source and "Zebulon" not in driver.page_source
