"""The load test's users fill forms and compute codes as a browser and an authenticator app do."""

import datetime as dt

from django_otp.oath import TOTP

from loadtest import browser

PAGE = """
<form id="logout-form" method="post" action="/admin/logout/"><input type="hidden" name="csrfmiddlewaretoken" value="out"></form>
<form method="post" id="appointment_form" class="main">
  <input type="hidden" name="csrfmiddlewaretoken" value="tok">
  <input type="text" name="reason_for_visit" value="">
  <input type="checkbox" name="urgent">
  <input type="checkbox" name="confirmed" checked>
  <select name="kind"><option value="">---</option><option value="therapy" selected>Therapy</option></select>
  <select name="modality"><option value="in_person">In person</option><option value="telehealth">Telehealth</option></select>
  <textarea name="notes">first line
second</textarea>
  <input type="submit" name="_save" value="Save">
</form>
"""


def test_a_form_is_read_by_id_or_class_as_a_browser_would_submit_it():
    fields = browser.form_fields(PAGE, "appointment_form")
    assert fields == {
        "csrfmiddlewaretoken": "tok",
        "reason_for_visit": "",
        "confirmed": "on",
        "kind": "therapy",
        "modality": "in_person",
        "notes": "first line\nsecond",
    }
    assert browser.form_fields(PAGE, "main") == fields
    assert browser.form_fields(PAGE) == {"csrfmiddlewaretoken": "out"}


def test_the_totp_code_is_the_one_django_otp_accepts():
    key = "3132333435363738393031323334353637383930"
    for moment in (59, 1111111109, 1234567890, 2000000000):
        reference = TOTP(bytes.fromhex(key), step=30, t0=0, digits=6)
        reference.time = moment
        assert browser.totp(key, moment) == f"{reference.token():06d}"
    assert browser.totp(key, 59) == "287082"  # RFC 6238, appendix B (SHA-1, last 6 digits)


def test_bookings_fall_on_distinct_weekdays():
    friday = dt.date(2027, 1, 8)
    days = [browser.weekday_after(friday, count) for count in range(12)]
    assert len(set(days)) == 12
    assert all(day.weekday() < 5 for day in days)
    assert days[:3] == [friday, dt.date(2027, 1, 11), dt.date(2027, 1, 12)]
    assert browser.weekday_after(dt.date(2027, 1, 9), 0) == dt.date(2027, 1, 11)  # a Saturday starts on Monday
