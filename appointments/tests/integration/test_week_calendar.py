"""The week calendar: a clinician's appointments, Monday to Sunday, drawn on the server."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import domain, repository, schedule
from appointments.tests.conftest import make_patient
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db

WEEK = "admin:appointments_appointment_week"
CLINICIAN_PROFILE = {"is_clinician": True, "credentials": "PhD"}


def next_monday():
    today = timezone.localdate()
    return today + dt.timedelta(days=7 - today.weekday())


def at(day, hour, minute=0):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def book(staff, patient, clinician, start, *, minutes=50, **changes):
    return repository.DjangoAppointmentRepository(actor=staff).add(
        domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=minutes),
            modality=domain.Modality.TELEHEALTH,
            **changes,
        )
    )


def week(client, clinician, day=None):
    return client.get(reverse(WEEK), {"clinician": clinician.pk, "date": (day or next_monday()).isoformat()})


def change_url(appointment_id):
    return reverse("admin:appointments_appointment_change", args=[appointment_id])


def test_the_week_runs_monday_to_friday_with_each_appointment_a_linked_block(staff_client, staff, patient, clinician):
    monday = next_monday()
    intake = book(staff, patient, clinician, at(monday + dt.timedelta(days=2), 9), kind=domain.Kind.INTAKE, minutes=60)
    response = week(staff_client, clinician, monday + dt.timedelta(days=3))  # any day names its week
    calendar = response.context["calendar"]
    assert calendar.monday == monday and [day.day.weekday() for day in calendar.days] == [0, 1, 2, 3, 4]
    block = calendar.days[2].blocks[0]
    assert (
        block.appointment_id == intake.id and block.label.endswith(patient.mrn) and block.label != patient.mrn
    )  # named
    page = response.content.decode()
    shown = re.search(rf'<a[^>]*href="{change_url(intake.id)}"[^>]*>(.*?)</a>', page, re.S).group(1)
    assert "09:00–10:00" in shown and "Intake" in shown and "Scheduled" in shown and patient.mrn in shown


def test_blocks_sit_in_proportion_to_their_time(staff_client, staff, patient, other_patient, clinician):
    monday = next_monday()
    book(staff, patient, clinician, at(monday, 9))
    book(staff, other_patient, clinician, at(monday, 11), minutes=100)
    calendar = week(staff_client, clinician).context["calendar"]
    first, second = calendar.days[0].blocks
    assert second.height == 2 * first.height and second.top - first.top == round(120 * schedule.PX_PER_MINUTE)
    assert calendar.hours[0][0] == "08:00" and calendar.hours[-1][0] == "18:00"  # the working day at least


def test_the_weekend_shows_only_when_something_is_booked_on_it(staff_client, staff, patient, clinician):
    monday = next_monday()
    assert len(week(staff_client, clinician).context["calendar"].days) == 5
    book(staff, patient, clinician, at(monday + dt.timedelta(days=6), 10))
    days = week(staff_client, clinician).context["calendar"].days
    assert [day.day.weekday() for day in days] == [0, 1, 2, 3, 4, 5, 6] and days[6].blocks


def test_released_appointments_are_listed_under_their_day_not_drawn(staff_client, staff, patient, clinician):
    monday = next_monday()
    cancelled = book(staff, patient, clinician, at(monday, 10))
    repository.DjangoAppointmentRepository(actor=staff).update(
        cancelled.cancel(
            at=timezone.now(), by=domain.CancelledBy.PATIENT, reason="unwell", late_window=dt.timedelta(hours=24)
        )
    )
    day = week(staff_client, clinician).context["calendar"].days[0]
    assert day.blocks == [] and [item.appointment_id for item in day.released] == [cancelled.id]
    assert day.released[0].status_text == "Cancelled"


def test_previous_and_next_week_links_and_the_way_back_to_the_day(staff_client, clinician):
    monday = next_monday()
    response = week(staff_client, clinician)
    page = response.content.decode().replace("&amp;", "&")
    base = reverse(WEEK)
    assert f"{base}?clinician={clinician.pk}&date={(monday - dt.timedelta(days=7)).isoformat()}" in page
    assert f"{base}?clinician={clinician.pk}&date={(monday + dt.timedelta(days=7)).isoformat()}" in page
    day_sheet = reverse("admin:appointments_appointment_day")
    assert f"{day_sheet}?clinician={clinician.pk}&date={monday.isoformat()}" in page


def test_a_care_restricted_colleague_sees_busy_without_a_link_or_an_mrn(client, staff):
    carer = member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    colleague = member("drother", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    shared, secret = make_patient(staff), make_patient(staff)
    for patient in (shared, secret):
        assign_care(patient, colleague)
    assign_care(shared, carer)
    monday = next_monday()
    seen = book(staff, shared, colleague, at(monday, 9))
    hidden = book(staff, secret, colleague, at(monday, 11))
    client.force_login(carer)
    response = week(client, colleague)
    page = response.content.decode()
    assert change_url(seen.id) in page and shared.mrn in page
    assert change_url(hidden.id) not in page and secret.mrn not in page and str(hidden.id) not in page
    blocks = response.context["calendar"].days[0].blocks
    assert (
        [block.label.endswith(shared.mrn) for block in blocks] == [True, False]
        and blocks[1].label == ""
        and "Busy" in page
    )
    assert response.context["calendar"].busy == 1


def test_the_page_is_in_the_access_log_once(staff_client, staff, patient, other_patient, clinician):
    monday = next_monday()
    book(staff, patient, clinician, at(monday, 9))
    book(staff, other_patient, clinician, at(monday, 11))
    week(staff_client, clinician)
    entry = AccessLogEntry.objects.get(action="week calendar", user=staff)
    assert entry.category == "appointments" and monday.isoformat() in entry.detail and "2 appointment" in entry.detail


def test_the_week_costs_the_same_queries_however_full_it_is(staff_client, staff, clinician):
    monday = next_monday()

    def counted():
        with CaptureQueriesContext(connection) as queries:
            assert week(staff_client, clinician).context["calendar"] is not None
        return len(queries)

    counted()  # the first request fills the per-process caches (content types, permissions)
    book(staff, make_patient(staff), clinician, at(monday, 9))
    few = counted()
    for offset in range(5):
        for hour in (9, 11, 14):
            if (offset, hour) != (0, 9):
                book(staff, make_patient(staff), clinician, at(monday + dt.timedelta(days=offset), hour))
    assert counted() == few


def test_bad_input_is_an_error_not_a_500_and_viewers_only(staff_client, client, clinician):
    bad = staff_client.get(reverse(WEEK), {"clinician": clinician.pk, "date": "2026-02-31"})
    assert bad.status_code == 200 and "date" in bad.context["form"].errors and bad.context["calendar"] is None
    assert staff_client.get(reverse(WEEK)).context["calendar"].monday <= timezone.localdate()
    client.force_login(member("auditor", roles.AUDITOR))
    assert client.get(reverse(WEEK)).status_code == 403


def test_the_week_is_reached_from_the_list_and_the_day_sheet(staff_client, clinician):
    url = reverse(WEEK)
    assert url in staff_client.get(reverse("admin:appointments_appointment_changelist")).content.decode()
    sheet = staff_client.get(reverse("admin:appointments_appointment_day"), {"clinician": clinician.pk})
    assert f"{url}?clinician={clinician.pk}&amp;date={timezone.localdate().isoformat()}" in sheet.content.decode()


def test_the_week_and_the_free_slots_read_ranges_of_the_start_indexes_among_twenty_thousand_visits(
    on_postgres, staff, clinician, other_clinician, patient, room
):
    from appointments.tests.integration.test_concurrency import fill_history, pages_read

    fill_history(actor=staff, clinicians=[clinician, other_clinician], patient=patient)
    monday = next_monday() + dt.timedelta(weeks=40)  # a week no other test books (see test_concurrency.DAY)
    book(staff, patient, clinician, at(monday, 9))
    for query in (
        schedule.week_rows(clinician_id=clinician.pk, monday=monday),
        schedule.busy_spans(
            first_day=monday, days=14, clinician_id=clinician.pk, room_id=room.pk, patient_id=patient.id
        ),
    ):
        plan = query.explain(analyze=True, buffers=True)
        assert "Index" in plan and "Seq Scan" not in plan, plan
        assert pages_read(plan) < 30, plan  # a sequential scan would read about a thousand
        assert len(list(query)) == 1
