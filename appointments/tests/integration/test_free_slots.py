"""The free-slot finder: a clinician's (and a room's, a patient's) free times, each one click from booking."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import domain, models, repository, schedule
from appointments.tests.conftest import local, make_patient
from conftest import assign_care
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db

FINDER = "admin:appointments_appointment_free_slots"
ADD = "admin:appointments_appointment_add"
CLINICIAN_PROFILE = {"is_clinician": True, "credentials": "PhD"}


@pytest.fixture(autouse=True)
def every_day_open(settings):
    """Open every day, so a test's "tomorrow" has working hours whatever today is."""
    settings.NOVAMIND_WORKING_HOURS = "Mon-Sun 08:00-18:00"


def book(staff, patient, clinician, start, *, minutes=50, room=None, **changes):
    return repository.DjangoAppointmentRepository(actor=staff).add(
        domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=minutes),
            room_id=room.pk if room else None,
            modality=domain.Modality.IN_PERSON if room else domain.Modality.TELEHEALTH,
            **changes,
        )
    )


def tomorrow():
    return timezone.localdate() + dt.timedelta(days=1)


def find(client, **params):
    query = {"from": tomorrow().isoformat(), "weeks": "1", "kind": "therapy", "modality": "in_person", **params}
    return client.get(reverse(FINDER), {key: value for key, value in query.items() if value is not None})


def starts_on(response, day):
    found = response.context["result"]
    assert found is not None, response.context["form"].errors
    return [f"{slot.start:%H:%M}" for each_day, slots in found.days if each_day == day for slot in slots]


def test_the_finder_offers_the_clinicians_free_times_of_the_kinds_length(staff_client, staff, patient, clinician):
    book(staff, patient, clinician, local(1, 10))
    response = find(staff_client, clinician=clinician.pk)
    free = starts_on(response, tomorrow())
    assert free[:4] == ["08:00", "08:30", "09:00", "11:00"] and "10:00" not in free and "09:30" not in free
    assert free[-1] == "17:00"  # 17:00–17:50 ends before closing at 18:00
    result = response.context["result"]
    assert result.length_minutes == 50 and len(result.days) == 7
    intake = find(staff_client, clinician=clinician.pk, kind="intake").context["result"]
    assert all(slot.end - slot.start == dt.timedelta(minutes=60) for _, slots in intake.days for slot in slots)
    hour_long = starts_on(find(staff_client, clinician=clinician.pk, kind="intake"), tomorrow())
    assert "09:00" in hour_long and "09:30" not in hour_long  # 09:00–10:00 ends as the booking starts


def test_a_room_and_a_patient_asked_about_take_their_own_bookings_out_too(
    staff_client, staff, patient, other_patient, clinician, other_clinician, room
):
    book(staff, other_patient, other_clinician, local(1, 14), room=room)  # the room, with someone else
    book(staff, patient, other_clinician, local(1, 16))  # the patient, with someone else
    alone = starts_on(find(staff_client, clinician=clinician.pk), tomorrow())
    assert "14:00" in alone and "16:00" in alone
    both = starts_on(find(staff_client, clinician=clinician.pk, room=room.pk, patient=patient.id), tomorrow())
    assert "14:00" not in both and "16:00" not in both and "15:00" in both


def test_released_appointments_do_not_hold_their_time(staff_client, staff, patient, clinician):
    cancelled = book(staff, patient, clinician, local(1, 10))
    repository.DjangoAppointmentRepository(actor=staff).update(
        cancelled.cancel(
            at=timezone.now(), by=domain.CancelledBy.PATIENT, reason="unwell", late_window=dt.timedelta(hours=24)
        )
    )
    assert "10:00" in starts_on(find(staff_client, clinician=clinician.pk), tomorrow())


def test_each_slot_is_one_link_to_a_filled_in_add_form_that_books_it(staff_client, patient, clinician, room):
    response = find(staff_client, clinician=clinician.pk, room=room.pk, patient=patient.id, kind="intake")
    link = response.context["result_links"][0][1][0]["url"]
    assert link in response.content.decode().replace("&amp;", "&")
    query = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    assert urlsplit(link).path == reverse(ADD)
    assert query["clinician"] == str(clinician.pk) and query["room"] == str(room.pk)
    assert query["patient"] == str(patient.id) and query["kind"] == "intake"
    form = staff_client.get(link).context["adminform"].form
    start = timezone.localtime(form.initial["start"])
    assert form.initial["end"] - form.initial["start"] == dt.timedelta(minutes=60)
    assert str(form.initial["patient"]) == str(patient.id) and str(form.initial["room"]) == str(room.pk)
    posted = {
        "patient": str(patient.id),
        "clinician": str(clinician.pk),
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": start.strftime("%Y-%m-%d"),
        "end_1": (start + dt.timedelta(minutes=60)).strftime("%H:%M:%S"),
        "kind": "intake",
        "modality": "in_person",
        "room": str(room.pk),
        "reason_for_visit": "",
        "version": "1",
    }
    assert staff_client.post(reverse(ADD), posted).status_code == 302
    booked = models.Appointment.objects.get()
    assert booked.kind == "intake" and booked.end - booked.start == dt.timedelta(minutes=60)
    assert f"{timezone.localtime(booked.start):%H:%M}" not in starts_on(
        find(staff_client, clinician=clinician.pk), timezone.localtime(booked.start).date()
    )


def test_the_finder_opens_with_sensible_defaults_and_no_slot_before_now(staff_client, clinician):
    response = staff_client.get(reverse(FINDER))
    assert response.status_code == 200
    result = response.context["result"]
    assert result.first_day == timezone.localdate() and len(result.days) == 14  # two weeks, every day open
    assert all(slot.start >= timezone.now() for _, slots in result.days for slot in slots)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"weeks": "99"}, "weeks"),
        ({"weeks": "0"}, "weeks"),
        ({"from": "2026-02-31"}, "from"),
        ({"from": "1999-01-01"}, "from"),
        ({"kind": "surgery"}, "kind"),
        ({"modality": "telehealth", "room": "ROOM"}, "room"),
        ({"clinician": "abc"}, "clinician"),
        ({"patient": "not-a-uuid"}, "patient"),
    ],
)
def test_bad_input_is_an_error_next_to_its_field_not_a_500(staff_client, clinician, room, params, field):
    params = {key: (room.pk if value == "ROOM" else value) for key, value in params.items()}
    response = find(staff_client, **{"clinician": clinician.pk, **params})
    assert response.status_code == 200 and field in response.context["form"].errors
    assert response.context["result"] is None


def test_only_users_who_may_book_may_look_for_free_slots(client, clinician):
    auditor = member("auditor", roles.AUDITOR)
    client.force_login(auditor)
    assert client.get(reverse(FINDER)).status_code == 403
    assert AccessLogEntry.objects.filter(user=auditor, outcome="refused", action="free slots").exists()
    desk = member("desk", roles.FRONT_DESK)
    client.force_login(desk)
    assert client.get(reverse(FINDER), {"clinician": clinician.pk}).status_code == 200


def test_a_clinician_in_a_care_role_looks_only_for_their_own_free_time_and_their_own_patients(client, staff):
    carer = member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    colleague = member("drother", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    mine, theirs = make_patient(staff), make_patient(staff)
    assign_care(mine, carer)
    assign_care(theirs, colleague)
    client.force_login(carer)
    page = find(client)
    assert list(page.context["form"].fields["clinician"].queryset) == [carer]
    assert page.context["result"].clinician.startswith("Drcare") or "drcare" in page.context["result"].clinician
    refused = find(client, clinician=colleague.pk)
    assert "clinician" in refused.context["form"].errors and refused.context["result"] is None
    outside = find(client, clinician=carer.pk, patient=theirs.id)
    assert "patient" in outside.context["form"].errors and theirs.mrn not in outside.content.decode()
    inside = find(client, clinician=carer.pk, patient=mine.id)
    assert inside.context["result"] is not None
    assert AccessLogEntry.objects.filter(user=carer, action="free slots", patient_id=mine.id).count() == 1


def test_the_finder_costs_the_same_queries_whatever_the_schedule_holds(
    staff_client, staff, clinician, patient, other_patient, room
):
    def counted():
        with CaptureQueriesContext(connection) as queries:
            response = find(staff_client, clinician=clinician.pk, room=room.pk, patient=patient.id)
        assert response.context["result"] is not None
        return len(queries)

    counted()  # the first request fills the per-process caches (content types, permissions)
    book(staff, patient, clinician, local(1, 9))
    few = counted()
    for day in range(2, 7):
        for hour in (9, 11, 13):
            book(staff, other_patient, clinician, local(day, hour), room=room)
        book(staff, patient, clinician, local(day, 16))
    assert counted() == few


def test_the_finder_is_reached_from_the_list_the_add_form_and_the_day_sheet(staff_client, clinician):
    url = reverse(FINDER)
    assert url in staff_client.get(reverse("admin:appointments_appointment_changelist")).content.decode()
    assert url in staff_client.get(reverse(ADD)).content.decode()
    sheet = staff_client.get(reverse("admin:appointments_appointment_day"), {"clinician": clinician.pk})
    assert f"{url}?clinician={clinician.pk}" in sheet.content.decode()


def test_slot_clinicians_ask_the_policy(staff):
    carer = member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    member("drother", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    assert list(schedule.slot_clinicians(carer)) == [carer]
    assert schedule.slot_clinicians(member("desk", roles.FRONT_DESK)).count() == 2
