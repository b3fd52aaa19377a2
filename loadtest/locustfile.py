"""The Locust users of `make loadtest`: each is a front desk and a clinician at work, side by side.

Each virtual user holds two browser sessions, a front-desk account and a clinician account of
its own (loadtest.setup made them), signed in through the login form and the two-factor page
with a TOTP code computed from the account's secret, as an authenticator app computes it. So a
run at 1 user already exercises every request type, and at N users there are N of each.

The front desk searches patients, opens a patient's page, books appointments (its own
clinician's future slots, so bookings never collide) and looks at the day sheet; the clinician
opens their day sheet and their patients' pages, and writes and signs intake notes. The
statistics count from the moment the last user has signed in, for LOADTEST_DURATION seconds. A booking
counts as acknowledged only when the server answers the form with its redirect; every other
answer to a form (the form again, with errors) is a failure.

No Django import here: this runs in Locust's process, against the server over HTTP.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import os
import random
import re
import time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import gevent
import gevent.event
from locust import HttpUser, between, task
from locust.clients import HttpSession

from loadtest.browser import form_fields, totp, weekday_after

FIXTURE = json.loads(open(os.environ["LOADTEST_FIXTURE"], encoding="utf-8").read())
# The measured window: it opens when every user has signed in (or failed to), and lasts this long.
DURATION = float(os.environ.get("LOADTEST_DURATION", "60"))
THINK = [float(part) for part in os.environ.get("LOADTEST_THINK", "0.2,0.8").split(",")]
# Bookings start this many days ahead: far from the demo schedule, distinct per run (LOADTEST_RUN).
FIRST_BOOKING_DAY = dt.date.today() + dt.timedelta(days=400 + 60 * int(os.environ.get("LOADTEST_RUN", "0")))
SLOTS = [dt.time(hour) for hour in range(9, 17)]
_next_pair = itertools.count()
CLINIC_TIME_ZONE = ZoneInfo(os.environ.get("TIME_ZONE", "America/New_York"))


_arrived = 0
_everyone_in = gevent.event.Event()
_closed = False
_in_flight = 0


def signed_in(environment) -> None:
    """Wait until every user has signed in; the last one opens the measured window, DURATION long.

    Each sign-in checks a password with PBKDF2 (about half a second of a worker's CPU): at 30
    users that is the first half-minute of a stage, which is not the work being measured. No
    user works before the window opens (a booking made then would be stored but not counted as
    acknowledged); the statistics start afresh when it does, and a sign-in that failed stays an
    error (the user's exception).
    """
    global _arrived
    _arrived += 1
    if _arrived == environment.parsed_options.num_users:
        environment.stats.reset_all()
        _everyone_in.set()
        gevent.spawn_later(DURATION, close_window, environment)
    _everyone_in.wait()


def close_window(environment) -> None:
    """Start no more tasks, let the ones under way finish (their answers are counted), then stop.

    Stopping users mid-task could leave a booking stored whose acknowledgement nobody read.
    """
    global _closed
    _closed = True
    while _in_flight:
        gevent.sleep(0.1)
    write_result(environment)
    environment.runner.quit()


def write_result(environment) -> None:
    """Write the window's figures to LOADTEST_RESULT, now: Locust's CSV files lag up to a second."""
    stats = environment.stats
    result = {
        "rows": [
            {
                "name": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "p50": entry.get_response_time_percentile(0.5) if entry.num_requests else 0,
                "p95": entry.get_response_time_percentile(0.95) if entry.num_requests else 0,
                "p99": entry.get_response_time_percentile(0.99) if entry.num_requests else 0,
            }
            for entry in stats.entries.values()
            if entry.num_requests
        ],
        "failures": [f"{error.occurrences}× {error.name}: {error.error}" for error in stats.errors.values()],
        "exceptions": [f"{row['count']}× exception: {row['msg']}" for row in environment.runner.exceptions.values()],
        "exception_count": sum(row["count"] for row in environment.runner.exceptions.values()),
    }
    with open(os.environ["LOADTEST_RESULT"], "w", encoding="utf-8") as handle:
        json.dump(result, handle)


def measured(work):
    """Run a task only while the window is open, and count it as under way while it runs."""

    @functools.wraps(work)
    def run(self):
        global _in_flight
        if _closed:
            return
        _in_flight += 1
        try:
            work(self)
        finally:
            _in_flight -= 1

    return run


def clinic_today() -> dt.date:
    """Return today in the clinic's time zone (the server's "today")."""
    return dt.datetime.now(CLINIC_TIME_ZONE).date()


class Refused(Exception):
    """The server did not do what the request asked (the message says what it answered)."""


class StaffSessions(HttpUser):
    """A front-desk session and a clinician session, taking turns at the tasks below."""

    wait_time = between(*THINK)

    def on_start(self):
        pair = FIXTURE["pairs"][next(_next_pair) % len(FIXTURE["pairs"])]
        self.patients = pair["patients"]
        self.clinician_id = pair["clinician"]["id"]
        self.bookings = 0
        self.desk = self.client
        self.clinic = HttpSession(base_url=self.host, request_event=self.environment.events.request, user=self)
        try:
            self.sign_in(self.desk, pair["desk"], "front desk")
            self.sign_in(self.clinic, pair["clinician"], "clinician")
        finally:
            signed_in(self.environment)

    def sign_in(self, session, account: dict, who: str) -> None:
        """Sign in through the login form and the two-factor page, as staff do."""
        page = session.get("/admin/login/", name="sign-in: login page")
        fields = form_fields(page.text, "login-form")
        fields.update(username=account["username"], password=account["password"], next="/admin/")
        session.post("/admin/login/", data=fields, name="sign-in: password", allow_redirects=False)
        for _attempt in range(3):
            page = session.get("/admin/two-factor/?next=/admin/", name="sign-in: two-factor page")
            fields = form_fields(page.text, "two-factor-form")
            if "code" not in fields:
                raise Refused(f"{who} {account['username']}: no two-factor form after the password ({page.url})")
            fields["code"] = totp(account["totp_key"], time.time())
            with session.post(
                "/admin/two-factor/", data=fields, name="sign-in: code", allow_redirects=False, catch_response=True
            ) as answer:
                if answer.status_code == 302:
                    return
                # A code is good once per 30 s step (django-otp refuses a replay): this account
                # may have signed in during the previous stage's last seconds. Wait for the next.
                answer.success()
            time.sleep(30 - time.time() % 30 + 0.5)
        raise Refused(f"{who} {account['username']}: the two-factor code was refused three times")

    # --- reads -----------------------------------------------------------------------------

    def _get(self, session, url: str, name: str):
        with session.get(url, name=name, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code} (Location: {answer.headers.get('Location', '-')})")
            return answer

    @task(4)
    @measured
    def search_patients(self):
        patient = random.choice(self.patients)
        answer = self._get(
            self.desk, f"/admin/patients/patient/?{urlencode({'q': patient['search']})}", "front desk: search"
        )
        if answer.status_code == 200 and f"/admin/patients/patient/{patient['id']}/change/" not in answer.text:
            answer.failure("the patient searched for is not in the results")

    @task(3)
    @measured
    def desk_patient_page(self):
        patient = random.choice(self.patients)
        self._get(self.desk, f"/admin/patients/patient/{patient['id']}/change/", "patient page")

    @task(3)
    @measured
    def clinician_patient_page(self):
        patient = random.choice(self.patients)
        self._get(self.clinic, f"/admin/patients/patient/{patient['id']}/change/", "patient page")

    @task(2)
    @measured
    def day_sheet(self):
        today = clinic_today().isoformat()
        url = f"/admin/appointments/appointment/day/?clinician={self.clinician_id}&date={today}"
        self._get(random.choice((self.desk, self.clinic)), url, "day sheet")

    # --- writes ----------------------------------------------------------------------------

    def _save(self, session, url: str, fields: dict, name: str) -> bool:
        """Post a form; True when the server answered with the redirect of a saved record."""
        with session.post(url, data=fields, name=name, allow_redirects=False, catch_response=True) as answer:
            if answer.status_code == 302 and "/login/" not in answer.headers.get("Location", ""):
                return True
            errors = re.findall(r'class="errorlist[^"]*"[^>]*>\s*<li>([^<]+)', answer.text or "")
            answer.failure(f"HTTP {answer.status_code}: {'; '.join(errors[:3]) or 'not saved'}")
            return False

    @task(2)
    @measured
    def book_appointment(self):
        page = self._get(self.desk, "/admin/appointments/appointment/add/", "front desk: booking form")
        if page.status_code != 200:
            return
        slot = self.bookings
        self.bookings += 1
        start = dt.datetime.combine(weekday_after(FIRST_BOOKING_DAY, slot // len(SLOTS)), SLOTS[slot % len(SLOTS)])
        fields = form_fields(page.text, "appointment_form")
        fields.update(
            patient=str(self.patients[slot % len(self.patients)]["id"]),
            clinician=str(self.clinician_id),
            kind="therapy",
            modality="telehealth",
            room="",
            reason_for_visit="Load test visit",
        )
        if "start_0" in fields:
            fields.update(start_0=start.date().isoformat(), start_1=start.strftime("%H:%M"), end_0="", end_1="")
        else:
            fields.update(start=start.strftime("%Y-%m-%d %H:%M"), end="")
        self._save(self.desk, "/admin/appointments/appointment/add/", fields, "front desk: booking saved")

    @task(1)
    @measured
    def write_and_sign_note(self):
        page = self._get(self.clinic, "/admin/clinical_notes/clinicalnote/add/", "clinician: note form")
        if page.status_code != 200:
            return
        fields = form_fields(page.text, "clinicalnote_form")
        fields.update(
            patient=str(random.choice(self.patients)["id"]),
            kind="intake_assessment",
            format="free_text",
            date_of_service=clinic_today().isoformat(),
            body="Load test intake: presenting concerns, history, mental status, plan.",
            _sign="Sign",
        )
        self._save(self.clinic, "/admin/clinical_notes/clinicalnote/add/", fields, "clinician: note signed")
