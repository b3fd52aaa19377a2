"""What every browser test shares: a live server, a fresh headless Chromium, and signing in.

Not a test module (pytest collects test_*.py only); the Chromium itself comes from the
chrome_driver_factory fixture in the root conftest.py, which fails rather than skips in CI.
"""

import pathlib

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import STAFF_PASSWORD

# Where browser tests leave screenshots of the pages they drive (CI keeps test-results/).
SCREENSHOTS = pathlib.Path(__file__).resolve().parents[3] / "test-results" / "screenshots"


def replaced(element) -> bool:
    """Return whether `element`'s page has been replaced by another.

    Selenium's staleness_of expects StaleElementReferenceException; Chromium 156 sometimes
    answers for a node of a page being replaced with "Node with given id does not belong to the
    document" instead, which is the same news.
    """
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


@pytest.mark.browser
class AdminTestCase(StaticLiveServerTestCase):
    """The admin on a live server, driven by `self.driver`, a Chromium started for each test."""

    host = "127.0.0.1"

    @pytest.fixture(autouse=True)
    def _driver(self, chrome_driver_factory):
        self.driver = chrome_driver_factory()
        yield
        self.driver.quit()

    def sign_in(self, username):
        """Sign in to the admin as `username` and check that the index page is shown."""
        self.driver.get(f"{self.live_server_url}/admin/login/")
        self.fill("username", username)
        self.fill("password", STAFF_PASSWORD)
        self.click_and_wait(self.driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))
        assert "Clinic back-office" in self.driver.page_source

    def fill(self, name, value):
        """Replace the text of the field called `name`."""
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def click_and_wait(self, element):
        """Click something that loads a new page, and wait until the old page is gone.

        A loaded machine must not make the test read the old page.
        """
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, 30).until(lambda driver: replaced(page))

    def pick(self, name, text, *, typed="") -> int:
        """Choose the hit holding `text` in the search-as-you-type picker of the field `name`.

        As staff do: open it (a click), type `typed` if given, click the hit. Return the clicks (2).
        """
        selection = f"select[name='{name}'] + .select2 .select2-selection"
        self.driver.find_element(By.CSS_SELECTOR, selection).click()
        if typed:
            self.driver.find_element(By.CSS_SELECTOR, ".select2-search__field").send_keys(typed)
        hit = (By.XPATH, f"//li[contains(@class, 'select2-results__option') and contains(., '{text}')]")
        # The result list is redrawn as the search answers; retry a click that lands on an old one.
        WebDriverWait(self.driver, 15, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda driver: driver.find_element(*hit).click() or True
        )
        WebDriverWait(self.driver, 15).until(
            lambda driver: text in driver.find_element(By.CSS_SELECTOR, selection).text
        )
        return 2

    def picked(self, name) -> str:
        """Return the text of what the picker of the field `name` shows as chosen."""
        return self.driver.find_element(By.CSS_SELECTOR, f"select[name='{name}'] + .select2 .select2-selection").text

    def screenshot(self, name) -> pathlib.Path:
        """Save what the browser shows as test-results/screenshots/<name>.png, and return its path."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot saved at {path}"
        return path

    def message(self):
        """Return the text of the messages at the top of the page."""
        return self.driver.find_element(By.CSS_SELECTOR, ".messagelist").text
