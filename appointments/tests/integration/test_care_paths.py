"""Every appointment path asks the one policy: care for clinicians, roles for everyone (issue 14)."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from appointments import domain, models, repository, services
from appointments.tests.conftest import local, make_patient
from conftest import assign_care
from novamind import roles
from novamind.domain import AccessDenied
from novamind.tests.integration.role_users import member
from patients import models as patient_models

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"is_clinician": True, "credentials": "PhD"}


@pytest.fixture
def desk(db):
    return member("desk", roles.FRONT_DESK)


@pytest.fixture
def carer(db):
    return member("drcare", roles.CLINICIAN, profile=CLINICIAN_PROFILE)


@pytest.fixture
def colleague(db):
    return member("drother", roles.CLINICIAN, profile=CLINICIAN_PROFILE)


@pytest.fixture
def mine(staff, carer, colleague):
    """A patient in the care of both clinicians (shared)."""
    patient = make_patient(staff, legal_first_name="Sharedname")
    assign_care(patient, carer)
    assign_care(patient, colleague)
    return patient


@pytest.fixture
def theirs(staff, colleague):
    """A patient only the colleague treats."""
    patient = make_patient(staff, legal_first_name="Secretname")
    assign_care(patient, colleague)
    return patient


def appointment(staff, patient, clinician, *, start=None, room=None, **changes):
    start = start or local()
    return repository.DjangoAppointmentRepository(actor=staff).add(
        domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            modality=domain.Modality.TELEHEALTH,
            room_id=None,
            **changes,
        )
    )


@pytest.fixture
def their_visit(staff, theirs, colleague):
    return appointment(staff, theirs, colleague)


@pytest.fixture
def my_visit(staff, mine, carer):
    return appointment(staff, mine, carer, start=local(hour=12))


def signed_in(client, user):
    client.force_login(user)
    return client


def url(name, *args):
    return reverse(f"admin:appointments_appointment_{name}", args=args)


def form(patient, clinician, start=None, **overrides):
    start = timezone.localtime(start or local(hour=15))
    end = start + dt.timedelta(minutes=50)
    data = {
        "patient": str(patient.id),
        "clinician": str(clinician.pk),
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": end.strftime("%Y-%m-%d"),
        "end_1": end.strftime("%H:%M:%S"),
        "kind": "therapy",
        "modality": "telehealth",
        "room": "",
        "reason_for_visit": "follow-up",
        "version": "1",
    }
    data.update(overrides)
    return data


def cares(patient, clinician) -> bool:
    return patient_models.CareAssignment.objects.filter(
        patient_id=patient.id, clinician=clinician, ended_at=None
    ).exists()


# --- workflow URLs answer 404 outside care ------------------------------------------------------


@pytest.mark.parametrize("page", ["cancel", "reschedule"])
def test_a_clinician_cannot_open_a_workflow_page_of_an_appointment_outside_their_care(client, carer, their_visit, page):
    assert signed_in(client, carer).get(url(page, their_visit.id)).status_code == 404


def test_a_clinician_cannot_cancel_check_in_or_reschedule_an_appointment_outside_their_care(client, carer, their_visit):
    signed_in(client, carer)
    cancel = client.post(url("cancel", their_visit.id), {"by": "clinic", "reason": "sick", "version": "1"})
    transition = client.post(url("transition", their_visit.id), {"action": "check_in", "version": "1"})
    start = local(day_offset=2)
    reschedule = client.post(
        url("reschedule", their_visit.id),
        {
            "start_0": start.strftime("%Y-%m-%d"),
            "start_1": "10:00:00",
            "end_0": start.strftime("%Y-%m-%d"),
            "end_1": "10:50:00",
            "clinician": str(their_visit.clinician_id),
            "modality": "telehealth",
            "version": "1",
        },
    )
    assert (cancel.status_code, transition.status_code, reschedule.status_code) == (404, 404, 404)
    assert models.Appointment.objects.get(pk=their_visit.id).status == "scheduled"
    assert models.Appointment.objects.count() == 1


def test_a_clinician_can_still_cancel_an_appointment_of_their_own_patient(client, carer, my_visit):
    response = signed_in(client, carer).post(
        url("cancel", my_visit.id), {"by": "clinic", "reason": "unwell", "version": "1"}
    )
    assert response.status_code == 302
    assert models.Appointment.objects.get(pk=my_visit.id).status == "cancelled"


def test_the_services_refuse_an_appointment_outside_the_actors_care(carer, their_visit):
    with pytest.raises(AccessDenied):
        services.appointment_cancel(
            appointment_id=their_visit.id, by=domain.CancelledBy.CLINIC, reason="sick", actor=carer
        )
    with pytest.raises(AccessDenied):
        services.appointment_check_in(appointment_id=their_visit.id, actor=carer)
    assert models.Appointment.objects.get(pk=their_visit.id).status == "scheduled"


def test_a_list_action_never_acts_on_an_appointment_outside_the_clinicians_care(client, carer, their_visit, my_visit):
    signed_in(client, carer).post(
        url("changelist"),
        {
            "action": "cancel_selected",
            "_selected_action": [str(their_visit.id)],
            "apply": "1",
            "by": "clinic",
            "reason": "sick",
        },
    )
    assert models.Appointment.objects.get(pk=their_visit.id).status == "scheduled"


# --- booking -------------------------------------------------------------------------------------


def test_a_clinician_cannot_book_a_patient_outside_their_care_and_is_told_next_to_the_patient(client, carer, theirs):
    response = signed_in(client, carer).post(url("add"), form(theirs, carer))
    assert response.status_code == 200
    assert "patient" in response.context["adminform"].form.errors
    assert not models.Appointment.objects.exists()
    assert not cares(theirs, carer)


def test_a_clinicians_booking_of_their_patient_with_a_colleague_creates_no_care(client, carer, mine, colleague, staff):
    other = make_patient(staff)
    assign_care(other, carer)
    response = signed_in(client, carer).post(url("add"), form(other, colleague))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert models.Appointment.objects.filter(patient_id=other.id, clinician=colleague).exists()
    assert not cares(other, colleague)


def test_the_add_page_offers_only_visible_patients_in_the_patient_picker(client, carer, mine, theirs):
    signed_in(client, carer)
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "appointments", "model_name": "appointment", "field_name": "patient", "term": ""},
    )
    ids = {item["id"] for item in response.json()["results"]}
    assert str(mine.id) in ids and str(theirs.id) not in ids


def test_the_front_desk_booking_puts_the_clinician_on_the_care_team_in_the_same_transaction(
    client, desk, carer, theirs
):
    response = signed_in(client, desk).post(url("add"), form(theirs, carer))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert cares(theirs, carer)


def test_a_front_desk_booking_that_clashes_creates_no_care(desk, carer, theirs, staff, mine):
    appointment(staff, mine, carer, start=local(hour=15))
    start = local(hour=15)
    with pytest.raises(domain.BookingConflict):
        services.appointment_book(
            appointment=domain.Appointment(
                patient_id=theirs.id,
                clinician_id=carer.pk,
                start=start,
                end=start + dt.timedelta(minutes=50),
                modality=domain.Modality.TELEHEALTH,
            ),
            actor=desk,
        )
    assert not cares(theirs, carer)


def test_the_front_desk_series_booking_puts_the_clinician_on_the_care_team(client, desk, carer, theirs):
    start = local(day_offset=3, hour=9)
    response = signed_in(client, desk).post(
        reverse("admin:appointments_appointmentseries_plan"),
        {
            "patient": str(theirs.id),
            "clinician": str(carer.pk),
            "start_0": start.strftime("%Y-%m-%d"),
            "start_1": "09:00:00",
            "end_0": start.strftime("%Y-%m-%d"),
            "end_1": "09:50:00",
            "frequency": "weekly",
            "count": "3",
            "kind": "therapy",
            "modality": "telehealth",
            "_book": "1",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert models.Appointment.objects.filter(patient_id=theirs.id).count() == 3
    assert cares(theirs, carer)


def test_a_clinician_cannot_plan_a_series_for_a_patient_outside_their_care(client, carer, theirs):
    start = local(day_offset=3, hour=9)
    response = signed_in(client, carer).post(
        reverse("admin:appointments_appointmentseries_plan"),
        {
            "patient": str(theirs.id),
            "clinician": str(carer.pk),
            "start_0": start.strftime("%Y-%m-%d"),
            "start_1": "09:00:00",
            "end_0": start.strftime("%Y-%m-%d"),
            "end_1": "09:50:00",
            "frequency": "weekly",
            "count": "3",
            "kind": "therapy",
            "modality": "telehealth",
            "_book": "1",
        },
    )
    assert response.status_code == 200 and "patient" in response.context["form"].errors
    assert not models.Appointment.objects.exists()


def test_the_front_desk_rescheduling_to_another_clinician_puts_them_on_the_care_team(desk, carer, their_visit, theirs):
    start = local(day_offset=2)
    services.appointment_reschedule(
        appointment_id=their_visit.id,
        start=start,
        end=start + dt.timedelta(minutes=50),
        clinician_id=carer.pk,
        actor=desk,
    )
    assert cares(theirs, carer)


# --- series pages --------------------------------------------------------------------------------


@pytest.fixture
def their_series(staff, theirs, colleague):
    start = local(day_offset=4, hour=8)
    series, _ = repository.DjangoAppointmentRepository(actor=staff).add_series(
        domain.Series(
            patient_id=theirs.id,
            clinician_id=colleague.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            count=2,
            modality=domain.Modality.TELEHEALTH,
        ),
        [],
    )
    return series


def test_a_series_planned_for_a_patient_that_is_no_id_is_an_error_next_to_the_patient(client, carer):
    start = local(day_offset=3, hour=9)
    response = signed_in(client, carer).post(
        reverse("admin:appointments_appointmentseries_plan"),
        {"patient": "abc", "clinician": str(carer.pk), "start_0": start.strftime("%Y-%m-%d"), "start_1": "09:00"},
    )
    assert response.status_code == 200 and "patient" in response.context["form"].errors
    assert not models.AppointmentSeries.objects.exists()


def test_a_clinician_sees_no_series_of_a_patient_outside_their_care(client, carer, their_series):
    signed_in(client, carer)
    listing = client.get(reverse("admin:appointments_appointmentseries_changelist"))
    assert listing.status_code == 200 and str(their_series.id)[:8] not in listing.content.decode()
    change = client.get(reverse("admin:appointments_appointmentseries_change", args=[their_series.id]))
    history = client.get(reverse("admin:appointments_appointmentseries_history", args=[their_series.id]))
    assert (change.status_code, history.status_code) == (404, 404)


def test_the_treating_clinician_still_opens_the_series(client, colleague, their_series):
    signed_in(client, colleague)
    change = client.get(reverse("admin:appointments_appointmentseries_change", args=[their_series.id]))
    assert change.status_code == 200


# --- the day sheet -------------------------------------------------------------------------------


def test_a_colleagues_day_sheet_shows_a_clinician_only_the_patients_they_share(
    client, carer, colleague, their_visit, staff, mine
):
    appointment(staff, mine, colleague, start=local(hour=14))
    day = timezone.localtime(their_visit.start).date().isoformat()
    response = signed_in(client, carer).get(url("day"), {"clinician": colleague.pk, "date": day})
    text = response.content.decode()
    assert response.status_code == 200
    assert "Sharedname" in text and "Secretname" not in text


def test_the_day_sheet_command_applies_the_same_rule_to_its_actor(carer, colleague, their_visit, staff, mine):
    appointment(staff, mine, colleague, start=local(hour=14))
    out = io.StringIO()
    day = timezone.localtime(their_visit.start).date().isoformat()
    call_command("day_sheet", "--clinician", "drother", "--date", day, "--actor", "drcare", stdout=out)
    assert "Sharedname" in out.getvalue() and "Secretname" not in out.getvalue()


def test_the_day_sheet_command_refuses_an_actor_without_the_role(db):
    member("drother", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    member("auditor", roles.AUDITOR)
    with pytest.raises(CommandError):
        call_command("day_sheet", "--clinician", "drother", "--actor", "auditor", stdout=io.StringIO())


# --- date bounds and garbage input ---------------------------------------------------------------


def test_an_appointment_starting_in_year_9999_is_refused_next_to_the_start(staff_client, staff, mine, carer):
    data = form(mine, carer, start_0="9999-12-31", start_1="23:00:00", end_0="9999-12-31", end_1="23:50:00")
    response = staff_client.post(url("add"), data)
    assert response.status_code == 200
    assert "start" in response.context["adminform"].form.errors
    assert not models.Appointment.objects.exists()
    assert staff_client.get(url("changelist")).status_code == 200


def test_the_repository_refuses_a_start_more_than_five_years_ahead_or_ten_years_back(staff, mine, carer):
    from novamind.domain import RuleViolation

    for start in (local(day_offset=5 * 366 + 2), local(day_offset=-(10 * 366 + 3))):
        with pytest.raises(RuleViolation) as caught:
            appointment(staff, mine, carer, start=start)
        assert "start" in caught.value.errors
    assert not models.Appointment.objects.exists()


def test_a_reschedule_to_year_9999_is_a_form_error_next_to_the_start(staff_client, my_visit):
    response = staff_client.post(
        url("reschedule", my_visit.id),
        {
            "start_0": "9999-12-31",
            "start_1": "23:00:00",
            "end_0": "9999-12-31",
            "end_1": "23:50:00",
            "clinician": str(my_visit.clinician_id),
            "modality": "telehealth",
            "version": "1",
        },
    )
    assert response.status_code == 200 and "start" in response.context["form"].errors


def test_a_series_starting_in_year_9999_is_a_form_error_next_to_the_start(staff_client, mine, carer):
    response = staff_client.post(
        reverse("admin:appointments_appointmentseries_plan"),
        {
            "patient": str(mine.id),
            "clinician": str(carer.pk),
            "start_0": "9999-12-01",
            "start_1": "23:00:00",
            "end_0": "9999-12-01",
            "end_1": "23:50:00",
            "frequency": "weekly",
            "until": "9999-12-31",
            "kind": "therapy",
            "modality": "telehealth",
        },
    )
    assert response.status_code == 200 and "start" in response.context["form"].errors


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_day_sheet_of_a_far_date_is_a_form_error_not_a_server_error(staff_client, carer, day):
    response = staff_client.get(url("day"), {"clinician": carer.pk, "date": day})
    assert response.status_code == 200 and "date" in response.context["form"].errors


def test_the_day_sheet_command_refuses_a_far_date(staff, carer):
    with pytest.raises(CommandError):
        call_command("day_sheet", "--clinician", "drcare", "--date", "9999-12-31", "--actor", staff.username)


@pytest.mark.parametrize("query", ["start=abc", "start=0001-01-01T00:00", "start=9999-12-31T23:59"])
def test_a_start_the_add_page_cannot_use_is_ignored(staff_client, query):
    assert staff_client.get(f"{url('add')}?{query}").status_code == 200


@pytest.mark.parametrize(
    "query",
    ["patient=abc", "clinician=abc", "patient=abc&clinician=abc&start=abc", "clinician=99999999999999999999"],
)
def test_an_add_page_asked_for_a_record_by_something_not_an_id_answers_400(staff_client, query):
    # novamind.middleware.BadInputMiddleware: one rule for every admin.
    response = staff_client.get(f"{url('add')}?{query}")
    assert response.status_code == 400 and b"not the id of" in response.content


def test_a_nul_byte_in_the_status_filter_answers_400_on_every_engine(staff_client):
    response = staff_client.get(url("changelist"), {"status": "\x00"})
    assert response.status_code == 400 and b"NUL" in response.content


def test_mark_no_shows_with_a_clinician_actor_marks_only_their_patients(staff, carer, colleague, mine, theirs):
    past = timezone.now() - dt.timedelta(hours=3)
    own = appointment(staff, mine, carer, start=past)
    other = appointment(staff, theirs, colleague, start=past)
    out = io.StringIO()
    call_command("mark_no_shows", "--actor", "drcare", stdout=out, stderr=io.StringIO())
    assert models.Appointment.objects.get(pk=own.id).status == "no_show"
    assert models.Appointment.objects.get(pk=other.id).status == "scheduled"
    assert str(other.id)[:8] not in out.getvalue()


def test_mark_no_shows_refuses_an_actor_who_may_not_change_appointments(db):
    member("auditor", roles.AUDITOR)
    with pytest.raises(CommandError):
        call_command("mark_no_shows", "--actor", "auditor", stdout=io.StringIO())


@pytest.mark.parametrize("action", ["check_in_selected", "cancel_selected"])
def test_a_garbage_id_in_a_list_action_answers_400_and_changes_nothing(staff_client, my_visit, action):
    response = staff_client.post(url("changelist"), {"action": action, "_selected_action": ["abc", str(my_visit.id)]})
    assert response.status_code == 400
    assert models.Appointment.objects.get(pk=my_visit.id).status == "scheduled"


@pytest.mark.parametrize("query", ["clinician=abc", "date=abc", "clinician=99999999999999999999"])
def test_garbage_in_the_day_sheets_query_string_is_a_form_error(staff_client, query):
    assert staff_client.get(f"{url('day')}?{query}").status_code == 200


def test_a_nul_byte_in_the_day_sheets_query_string_answers_400(staff_client):
    assert staff_client.get(f"{url('day')}?date=%00").status_code == 400


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (("0001-01-01", "00:00:00"), ("0001-01-01", "00:50:00")),
        (("9999-12-31", "23:00:00"), ("9999-12-31", "23:59:59")),
    ],
)
def test_a_start_at_either_end_of_the_calendar_is_a_form_error_on_every_form(
    staff_client, mine, carer, my_visit, start, end
):
    times = {"start_0": start[0], "start_1": start[1], "end_0": end[0], "end_1": end[1]}
    booking = staff_client.post(url("add"), form(mine, carer, **times))
    assert booking.status_code == 200 and "start" in booking.context["adminform"].form.errors
    moving = staff_client.post(
        url("reschedule", my_visit.id),
        {**times, "clinician": str(carer.pk), "modality": "telehealth", "version": "1"},
    )
    assert moving.status_code == 200 and "start" in moving.context["form"].errors
    series = staff_client.post(
        reverse("admin:appointments_appointmentseries_plan"),
        {
            **times,
            "patient": str(mine.id),
            "clinician": str(carer.pk),
            "frequency": "weekly",
            "count": "3",
            "kind": "therapy",
            "modality": "telehealth",
        },
    )
    assert series.status_code == 200 and "start" in series.context["form"].errors
    assert models.Appointment.objects.count() == 1
