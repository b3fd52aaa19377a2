"""The appointment admin through the Django test client: booking, errors, buttons, actions, pages."""

import datetime as dt

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from appointments import domain, models, repository, services
from appointments.tests.conftest import local
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

ADD = "admin:appointments_appointment_add"
CHANGELIST = "admin:appointments_appointment_changelist"


def change_url(appointment_id):
    return reverse("admin:appointments_appointment_change", args=[appointment_id])


def form_data(patient, clinician, room, *, start=None, minutes=50, **overrides):
    start = timezone.localtime(start or local())
    end = start + dt.timedelta(minutes=minutes)
    data = {
        "patient": str(patient.id),
        "clinician": str(clinician.pk),
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": end.strftime("%Y-%m-%d"),
        "end_1": end.strftime("%H:%M:%S"),
        "kind": "therapy",
        "modality": "in_person",
        "room": str(room.pk) if room else "",
        "reason_for_visit": "low mood",
        "version": "1",
    }
    data.update(overrides)
    return data


def errors_of(response):
    assert response.status_code == 200, response
    return response.context["adminform"].form.errors


@pytest.fixture
def booked(repo, visit):
    return services.appointment_book(actor=repo.actor, appointment=visit())


# --- booking -------------------------------------------------------------------------------------


def test_booking_from_the_admin_is_attributed_and_kept_in_history(staff_client, staff, patient, clinician, room):
    response = staff_client.post(reverse(ADD), form_data(patient, clinician, room))
    assert response.status_code == 302, errors_of(response)
    row = models.Appointment.objects.get()
    assert row.status == "scheduled" and row.created_by == staff and row.reason_for_visit == "low mood"
    record = row.history.get()
    assert record.history_user == staff and record.history_change_reason == "Booked"
    assert LogEntry.objects.get().object_repr == f"appointment {str(row.pk)[:8]}"


@pytest.mark.parametrize(
    "overrides, field, words",
    [
        ({"minutes": -30}, "end", "end after it starts"),
        ({"minutes": 0}, "end", "end after it starts"),
        ({"minutes": 24 * 60}, "end", "at most 4 h"),
        ({"modality": "telehealth"}, "room", "telehealth visit has no room"),
        ({"room": ""}, "room", "Choose a room"),
    ],
)
def test_bad_input_is_a_field_error_and_nothing_is_written(
    staff_client, patient, clinician, room, overrides, field, words
):
    overrides = dict(overrides)
    minutes = overrides.pop("minutes", 50)
    data = {**form_data(patient, clinician, room, minutes=minutes), **overrides}
    errors = errors_of(staff_client.post(reverse(ADD), data))
    assert words in " ".join(errors[field])
    assert models.Appointment.objects.count() == 0 and models.Appointment.history.count() == 0


def test_a_booking_over_an_existing_one_is_a_form_error_linking_to_the_clashing_appointment(
    staff_client,
    booked,
    other_patient,
    clinician,
    other_room,
):
    response = staff_client.post(reverse(ADD), form_data(other_patient, clinician, other_room, start=local(1, 10, 30)))
    errors = errors_of(response)
    message = errors["clinician"][0]
    assert f"appointment {str(booked.id)[:8]}" in message and change_url(booked.id) in message
    assert models.Appointment.objects.count() == 1


def test_a_booking_for_a_patient_already_booked_elsewhere_names_the_patient_field(
    staff_client,
    booked,
    patient,
    other_clinician,
    other_room,
):
    errors = errors_of(staff_client.post(reverse(ADD), form_data(patient, other_clinician, other_room)))
    assert "patient already has an appointment" in errors["patient"][0]


def test_the_clinician_choice_offers_only_clinicians(staff_client, clinician, other_staff):
    field = staff_client.get(reverse(ADD)).context["adminform"].form.fields["clinician"]
    assert list(field.queryset) == [clinician]
    assert field.label_from_instance(clinician) == "Drwho Drwho, PhD" or "PhD" in field.label_from_instance(clinician)


def test_the_add_page_takes_a_start_from_the_day_sheet_link(staff_client, clinician):
    response = staff_client.get(reverse(ADD), {"clinician": clinician.pk, "start": "2030-01-07T09:00"})
    initial = response.context["adminform"].form.initial
    assert timezone.localtime(initial["start"]).hour == 9 and initial["end"] - initial["start"] == dt.timedelta(
        minutes=50
    )
    assert staff_client.get(reverse(ADD), {"start": "garbage"}).status_code == 200


def test_moving_a_booking_checks_conflicts_and_records_the_move(
    staff_client, booked, patient, clinician, room, repo, visit, other_patient, other_room
):
    other = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(1, 14))
    )
    clash = form_data(patient, clinician, room, start=local(1, 14, 20))
    errors = errors_of(staff_client.post(change_url(booked.id), clash))
    assert str(other.id)[:8] in errors["clinician"][0]
    response = staff_client.post(change_url(booked.id), form_data(patient, clinician, room, start=local(1, 16)))
    assert response.status_code == 302
    row = models.Appointment.objects.get(pk=booked.id)
    assert timezone.localtime(row.start).hour == 16 and row.history.first().history_change_reason == "Moved"


def test_the_status_cannot_be_edited_on_the_form(staff_client, booked, patient, clinician, room):
    data = form_data(patient, clinician, room, status="completed", late_cancellation="on", checked_in_at="2020-01-01")
    assert staff_client.post(change_url(booked.id), data).status_code == 302
    row = models.Appointment.objects.get(pk=booked.id)
    assert row.status == "scheduled" and not row.late_cancellation and row.checked_in_at is None


def test_a_completed_visit_shows_every_field_read_only(staff_client, repo, visit):
    done = repo.add(visit(start=timezone.now() - dt.timedelta(minutes=10)))
    services.appointment_check_in(actor=repo.actor, appointment_id=done.id)
    services.appointment_complete(actor=repo.actor, appointment_id=done.id)
    response = staff_client.get(change_url(done.id))
    form = response.context["adminform"].form
    assert not {"start", "end", "clinician", "room", "status"} & set(form.fields)
    assert response.context["buttons"] == [] and not response.context["may_cancel"]
    assert "Drwho Drwho, PhD" in response.content.decode()


def test_garbage_or_unknown_ids_are_404_on_every_appointment_page(staff_client):
    for suffix in ("change", "history", "transition", "cancel", "reschedule"):
        assert staff_client.get(f"/admin/appointments/appointment/not-a-uuid/{suffix}/").status_code == 404
    unknown = "00000000-0000-0000-0000-000000000000"
    assert staff_client.get(f"/admin/appointments/appointment/{unknown}/cancel/").status_code == 404
    assert (
        staff_client.post(
            f"/admin/appointments/appointment/{unknown}/transition/", {"action": "check_in", "version": "1"}
        ).status_code
        == 404
    )


def test_appointments_cannot_be_deleted_from_the_admin(staff_client, booked):
    assert staff_client.get(reverse("admin:appointments_appointment_delete", args=[booked.id])).status_code == 403


# --- buttons -------------------------------------------------------------------------------------


def press(client, appointment_id, action, version):
    url = reverse("admin:appointments_appointment_transition", args=[appointment_id])
    return client.post(url, {"action": action, "version": str(version)}, follow=True)


def test_the_page_offers_exactly_the_allowed_buttons(staff_client, booked):
    context = staff_client.get(change_url(booked.id)).context
    assert [name for name, _ in context["buttons"]] == ["check_in", "no_show"]
    assert context["may_cancel"] and context["may_reschedule"]


def test_check_in_then_complete_with_the_buttons(staff_client, staff, booked):
    response = press(staff_client, booked.id, "check_in", 1)
    assert "checked in" in " ".join(str(m) for m in response.context["messages"])
    assert [name for name, _ in response.context["buttons"]] == ["complete"]
    press(staff_client, booked.id, "complete", 2)
    row = models.Appointment.objects.get(pk=booked.id)
    assert row.status == "completed" and row.updated_by == staff
    assert [h.history_change_reason for h in row.history.order_by("history_date")] == [
        "Booked",
        "Checked in",
        "Completed",
    ]
    assert LogEntry.objects.filter(object_id=str(booked.id)).count() == 2


def test_completing_a_cancelled_visit_is_refused_with_a_message_and_nothing_changes(staff_client, repo, booked):
    services.appointment_cancel(actor=repo.actor, appointment_id=booked.id, by="patient", reason="flu")
    response = press(staff_client, booked.id, "complete", 2)
    assert response.status_code == 200
    text = " ".join(str(m) for m in response.context["messages"])
    assert "Nothing was changed" in text and "cancelled, which is final" in text
    assert models.Appointment.objects.get(pk=booked.id).status == "cancelled"


def test_a_button_pressed_on_a_stale_page_is_refused(staff_client, repo, booked):
    services.appointment_check_in(actor=repo.actor, appointment_id=booked.id)  # someone else, meanwhile
    response = press(staff_client, booked.id, "no_show", 1)
    assert "changed by someone else" in " ".join(str(m) for m in response.context["messages"])
    assert models.Appointment.objects.get(pk=booked.id).status == "checked_in"


def test_a_no_show_before_the_start_is_refused(staff_client, booked):
    response = press(staff_client, booked.id, "no_show", 1)
    assert "before the appointment has started" in " ".join(str(m) for m in response.context["messages"])


def test_the_transition_url_refuses_get_and_unknown_buttons(staff_client, booked):
    url = reverse("admin:appointments_appointment_transition", args=[booked.id])
    assert staff_client.get(url).status_code == 405
    response = press(staff_client, booked.id, "delete", 1)
    assert "does not exist" in " ".join(str(m) for m in response.context["messages"])


def test_a_user_without_change_permission_gets_no_buttons_and_a_403(client, booked):
    from conftest import make_staff

    viewer = make_staff("viewer", permissions=())
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_appointment"))
    client.force_login(viewer)
    assert "buttons" not in client.get(change_url(booked.id)).context
    assert press(client, booked.id, "check_in", 1).status_code == 403


# --- cancel and reschedule pages -----------------------------------------------------------------


def test_cancelling_inside_the_window_says_so_and_flags_it_late(staff_client, repo, visit):
    soon = services.appointment_book(actor=repo.actor, appointment=visit(start=timezone.now() + dt.timedelta(hours=3)))
    url = reverse("admin:appointments_appointment_cancel", args=[soon.id])
    assert "late cancellation" in staff_client.get(url).context["explanation"]
    response = staff_client.post(url, {"by": "patient", "reason": "car broke down", "version": "1"})
    assert response.status_code == 302
    row = models.Appointment.objects.get(pk=soon.id)
    assert row.status == "cancelled" and row.late_cancellation and row.cancellation_reason == "car broke down"
    assert row.history.first().history_change_reason == "Cancelled by the patient"


def test_cancelling_without_a_reason_is_a_field_error(staff_client, booked):
    url = reverse("admin:appointments_appointment_cancel", args=[booked.id])
    response = staff_client.post(url, {"by": "clinic", "reason": "", "version": "1"})
    assert response.status_code == 200 and "reason" in response.context["form"].errors
    assert models.Appointment.objects.get(pk=booked.id).status == "scheduled"


def test_cancel_this_and_all_future_from_the_page(staff_client, repo, patient, clinician, room):
    weekly = domain.Series(
        patient_id=patient.id, clinician_id=clinician.pk, start=local(1), end=local(1, 10, 50), count=4, room_id=room.pk
    )
    _, occurrences = services.series_book(actor=repo.actor, series=weekly)
    url = reverse("admin:appointments_appointment_cancel", args=[occurrences[1].id])
    assert "scope" in staff_client.get(url).context["form"].fields
    staff_client.post(url, {"by": "clinic", "reason": "clinician leaving", "scope": "series", "version": "1"})
    assert list(models.Appointment.objects.order_by("start").values_list("status", flat=True)) == [
        "scheduled",
        *["cancelled"] * 3,
    ]


def test_rescheduling_from_the_page_links_old_and_new(staff_client, booked, clinician, room):
    url = reverse("admin:appointments_appointment_reschedule", args=[booked.id])
    new_start = timezone.localtime(local(2, 15))
    data = {
        "start_0": new_start.strftime("%Y-%m-%d"),
        "start_1": "15:00",
        "end_0": new_start.strftime("%Y-%m-%d"),
        "end_1": "15:50",
        "clinician": str(clinician.pk),
        "modality": "in_person",
        "room": str(room.pk),
        "version": "1",
    }
    response = staff_client.post(url, data)
    old = models.Appointment.objects.get(pk=booked.id)
    assert old.status == "rescheduled" and response.status_code == 302
    assert response["Location"] == change_url(old.replaced_by_id)
    page = staff_client.get(change_url(old.replaced_by_id))
    assert str(booked.id)[:8] in page.content.decode()


def test_rescheduling_into_a_clash_shows_the_clash_and_changes_nothing(
    staff_client, booked, repo, visit, other_patient, other_room, clinician, room
):
    blocker = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(2, 15))
    )
    url = reverse("admin:appointments_appointment_reschedule", args=[booked.id])
    day = timezone.localtime(local(2)).strftime("%Y-%m-%d")
    response = staff_client.post(
        url,
        {
            "start_0": day,
            "start_1": "15:10",
            "end_0": day,
            "end_1": "16:00",
            "clinician": str(clinician.pk),
            "modality": "in_person",
            "room": str(room.pk),
            "version": "1",
        },
    )
    assert response.status_code == 200 and str(blocker.id)[:8] in response.context["form"].errors["clinician"][0]
    assert (
        models.Appointment.objects.get(pk=booked.id).status == "scheduled" and models.Appointment.objects.count() == 2
    )


# --- list actions, filters and the day sheet -----------------------------------------------------


def test_list_actions_change_what_they_may_and_report_what_they_may_not(
    staff_client, repo, visit, other_patient, other_room
):
    started = repo.add(visit(start=timezone.now() - dt.timedelta(minutes=5)))
    future = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(3))
    )
    response = staff_client.post(
        reverse(CHANGELIST), {"action": "no_show_selected", "_selected_action": [started.id, future.id]}, follow=True
    )
    text = " ".join(str(m) for m in response.context["messages"])
    assert "before the appointment has started" in text
    assert models.Appointment.objects.get(pk=started.id).status == "no_show"
    assert models.Appointment.objects.get(pk=future.id).status == "scheduled"


def test_the_cancel_action_asks_for_a_reason_first_then_cancels(staff_client, booked):
    url = reverse(CHANGELIST)
    page = staff_client.post(url, {"action": "cancel_selected", "_selected_action": [booked.id]})
    assert page.status_code == 200 and "form" in page.context
    assert models.Appointment.objects.get(pk=booked.id).status == "scheduled"
    missing = staff_client.post(
        url, {"action": "cancel_selected", "_selected_action": [booked.id], "apply": "1", "by": "clinic", "reason": ""}
    )
    assert "reason" in missing.context["form"].errors
    staff_client.post(
        url,
        {
            "action": "cancel_selected",
            "_selected_action": [booked.id],
            "apply": "1",
            "by": "clinic",
            "reason": "closure",
        },
    )
    assert models.Appointment.objects.get(pk=booked.id).cancelled_by == "clinic"


def test_the_list_filters_by_clinician_status_kind_and_date(
    staff_client, repo, visit, clinician, other_clinician, other_patient, other_room
):
    mine = services.appointment_book(actor=repo.actor, appointment=visit())
    services.appointment_book(
        actor=repo.actor,
        appointment=visit(clinician_id=other_clinician.pk, patient_id=other_patient.id, room_id=other_room.pk),
    )
    url = reverse(CHANGELIST)
    day = timezone.localtime(mine.start)
    assert staff_client.get(url, {"clinician": clinician.pk}).context["cl"].result_count == 1
    assert (
        staff_client.get(url, {"status__exact": "scheduled", "kind__exact": "therapy"}).context["cl"].result_count == 2
    )
    assert (
        staff_client.get(url, {"start__year": day.year, "start__month": day.month, "start__day": day.day})
        .context["cl"]
        .result_count
        == 2
    )
    assert staff_client.get(url, {"clinician": "garbage"}).status_code == 400  # not a clinician's id
    choices = [
        choice["display"]
        for spec in staff_client.get(url).context["cl"].filter_specs
        if spec.title == "clinician"
        for choice in spec.choices(staff_client.get(url).context["cl"])
    ]
    assert "Drno Drno, LCSW" in choices or any("LCSW" in c for c in choices)


def test_the_day_sheet_shows_the_clinicians_day_in_order_and_logs_the_access(
    staff_client, staff, repo, visit, clinician, other_patient, other_room
):
    late = services.appointment_book(actor=repo.actor, appointment=visit(start=local(1, 15)))
    early = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(1, 9))
    )
    day = timezone.localtime(local(1)).date()
    response = staff_client.get(
        reverse("admin:appointments_appointment_day"), {"clinician": clinician.pk, "date": day.isoformat()}
    )
    sheet = response.context["sheet"]
    assert [row.appointment.id for row in sheet.rows] == [early.id, late.id]
    assert "09:00–09:50" in response.content.decode() and sheet.booked_minutes == 100
    assert AccessLogEntry.objects.filter(action="day sheet", user=staff).count() == 2


def test_the_day_sheet_defaults_to_today_and_refuses_a_bad_date_gently(staff_client, clinician):
    page = staff_client.get(reverse("admin:appointments_appointment_day"))
    assert page.status_code == 200 and page.context["sheet"].day == timezone.localdate()
    bad = staff_client.get(
        reverse("admin:appointments_appointment_day"), {"clinician": clinician.pk, "date": "2026-02-31"}
    )
    assert bad.status_code == 200 and "date" in bad.context["form"].errors and bad.context["sheet"] is None


# --- the patient page ----------------------------------------------------------------------------


def test_the_patient_page_lists_upcoming_and_past_appointments(staff_client, repo, visit, patient):
    past = repo.add(visit(start=timezone.now() - dt.timedelta(hours=3)))
    upcoming = services.appointment_book(actor=repo.actor, appointment=visit(start=local(2)))
    response = staff_client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    listings = {
        formset.formset.prefix: [form.instance.pk for form in formset.formset.forms]
        for formset in response.context["inline_admin_formsets"]
        if formset.opts.model is models.Appointment
    }
    assert list(listings.values()) == [[upcoming.id], [past.id]]
    assert change_url(upcoming.id) in response.content.decode()


def test_the_appointment_listings_add_no_error_to_a_patient_form_posted_without_them(
    staff_client, repo, visit, patient
):
    """Read-only listings take no input, so a POST that lacks their management form is fine."""
    services.appointment_book(actor=repo.actor, appointment=visit())
    data = {
        "legal_first_name": "Robin",
        "legal_last_name": "Okafor",
        "date_of_birth": "1990-05-17",
        "sex_assigned_at_birth": "unknown",
        "version": "1",
    }
    response = staff_client.post(reverse("admin:patients_patient_change", args=[patient.id]), data)
    ours = [
        f.formset
        for f in (response.context or {}).get("inline_admin_formsets", [])
        if f.opts.model is models.Appointment
    ]
    assert response.status_code == 302 or (
        len(ours) == 2
        and all(formset.is_valid() and not formset.non_form_errors() for formset in ours)
        and not response.context["adminform"].form.errors
    )


def test_the_patient_pages_listings_add_no_form_inputs_per_row(staff_client, repo, visit, patient):
    """A listing takes no input (novamind.admin.ListingFormSet): its rows carry no hidden fields.

    Each row's hidden id and patient inputs were rendered through the form renderer's templates,
    two per row on every listing: on a patient with a long history the largest part of the page's
    rendering, for inputs the form never read.
    """
    page = reverse("admin:patients_patient_change", args=[patient.id])
    services.appointment_book(actor=repo.actor, appointment=visit(start=local(2)))
    one_row = staff_client.get(page).content.decode()
    for day in (3, 4, 5):
        services.appointment_book(actor=repo.actor, appointment=visit(start=local(day)))
    four_rows = staff_client.get(page).content.decode()
    assert four_rows.count("/change/") > one_row.count("/change/")  # the rows are listed
    assert four_rows.count('type="hidden"') == one_row.count('type="hidden"')


# --- series --------------------------------------------------------------------------------------


def series_data(patient, clinician, room, **overrides):
    start = timezone.localtime(local(1))
    data = {
        "patient": str(patient.id),
        "clinician": str(clinician.pk),
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": "10:00",
        "end_0": start.strftime("%Y-%m-%d"),
        "end_1": "10:50",
        "frequency": "weekly",
        "count": "4",
        "until": "",
        "kind": "therapy",
        "modality": "in_person",
        "room": str(room.pk),
        "reason_for_visit": "CBT",
    }
    data.update(overrides)
    return data


def test_series_add_goes_to_the_plan_page(staff_client):
    response = staff_client.get(reverse("admin:appointments_appointmentseries_add"))
    assert response.status_code == 302 and response["Location"] == reverse("admin:appointments_appointmentseries_plan")


def test_checking_a_series_lists_its_dates_and_clashes_and_books_nothing(
    staff_client, repo, visit, patient, clinician, room, other_patient, other_room
):
    blocker = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(8, 10, 30))
    )
    response = staff_client.post(
        reverse("admin:appointments_appointmentseries_plan"), {**series_data(patient, clinician, room), "_check": "1"}
    )
    assert response.status_code == 200 and len(response.context["plan"]) == 4
    assert response.context["clashes"] == 1 and not response.context["bookable"]
    assert str(blocker.id)[:8] in response.context["plan"][1][1][0][0]
    assert models.AppointmentSeries.objects.count() == 0 and models.Appointment.objects.count() == 1


def test_booking_a_clear_series_creates_all_its_appointments(staff_client, patient, clinician, room):
    url = reverse("admin:appointments_appointmentseries_plan")
    checked = staff_client.post(url, {**series_data(patient, clinician, room), "_check": "1"})
    assert checked.context["bookable"]
    response = staff_client.post(url, {**series_data(patient, clinician, room), "_book": "1"})
    series = models.AppointmentSeries.objects.get()
    assert response["Location"] == reverse("admin:appointments_appointmentseries_change", args=[series.pk])
    assert models.Appointment.objects.filter(series=series).count() == 4
    page = staff_client.get(response["Location"]).content.decode()
    assert all(change_url(pk) in page for pk in models.Appointment.objects.values_list("pk", flat=True))


def test_booking_a_clashing_series_books_nothing_and_shows_the_clash(
    staff_client, repo, visit, patient, clinician, room, other_patient, other_room
):
    services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(15, 10))
    )
    response = staff_client.post(
        reverse("admin:appointments_appointmentseries_plan"), {**series_data(patient, clinician, room), "_book": "1"}
    )
    assert response.status_code == 200 and "1 of the 4" in str(response.context["form"].non_field_errors())
    assert models.AppointmentSeries.objects.count() == 0 and models.Appointment.objects.count() == 1


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"count": "", "until": ""}, "count"),
        ({"modality": "telehealth"}, "room"),
        ({"count": "60"}, "count"),
    ],
)
def test_bad_series_input_is_a_field_error(staff_client, patient, clinician, room, overrides, field):
    response = staff_client.post(
        reverse("admin:appointments_appointmentseries_plan"),
        {**series_data(patient, clinician, room), **overrides, "_check": "1"},
    )
    assert field in response.context["form"].errors
    assert models.Appointment.objects.count() == 0


def test_a_booked_series_is_read_only(staff_client, repo, patient, clinician, room):
    weekly = domain.Series(
        patient_id=patient.id, clinician_id=clinician.pk, start=local(1), end=local(1, 10, 50), count=2, room_id=room.pk
    )
    stored, _ = services.series_book(actor=repo.actor, series=weekly)
    url = reverse("admin:appointments_appointmentseries_change", args=[stored.id])
    assert staff_client.post(url, {"count": "9"}).status_code == 403
    assert models.AppointmentSeries.objects.get().count == 2


def test_the_race_a_form_cannot_see_is_a_clear_message_not_a_500(staff_client, patient, clinician, room, monkeypatch):
    """If the database refuses the save (a booking committed after our check), nothing is saved."""

    def refuse(row, *, actor, reason, validate=True):
        raise domain.BookingConflict([], timezone.get_current_timezone())

    monkeypatch.setattr(repository, "save", refuse)
    response = staff_client.post(reverse(ADD), form_data(patient, clinician, room), follow=True)
    assert response.status_code == 200
    assert "Someone else booked this time" in " ".join(str(m) for m in response.context["messages"])
    assert models.Appointment.objects.count() == 0 and LogEntry.objects.count() == 0


def test_check_in_and_complete_actions_work_on_several_appointments(
    staff_client, repo, visit, other_patient, other_room
):
    first = services.appointment_book(actor=repo.actor, appointment=visit())
    second = services.appointment_book(
        actor=repo.actor, appointment=visit(patient_id=other_patient.id, room_id=other_room.pk, start=local(1, 12))
    )
    url = reverse(CHANGELIST)
    staff_client.post(url, {"action": "check_in_selected", "_selected_action": [first.id, second.id]})
    staff_client.post(url, {"action": "complete_selected", "_selected_action": [first.id]})
    assert models.Appointment.objects.get(pk=first.id).status == "completed"
    assert models.Appointment.objects.get(pk=second.id).status == "checked_in"
    response = staff_client.post(url, {"action": "check_in_selected", "_selected_action": [first.id]}, follow=True)
    assert "completed, which is final" in " ".join(str(m) for m in response.context["messages"])


def test_reverting_a_completed_visit_to_its_scheduled_version_is_refused(
    staff_client, repo, booked, patient, clinician, room
):
    services.appointment_check_in(actor=repo.actor, appointment_id=booked.id)
    services.appointment_complete(actor=repo.actor, appointment_id=booked.id)
    first = models.Appointment.history.filter(id=booked.id).order_by("history_date").first()
    url = reverse("admin:appointments_appointment_simple_history", args=[booked.id, first.history_id])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {**form_data(patient, clinician, room), "version": "3"})
    assert response.status_code == 200
    assert "cannot be scheduled again" in " ".join(response.context["adminform"].form.non_field_errors())
    assert models.Appointment.objects.get(pk=booked.id).status == "completed"


# --- the end follows the kind ------------------------------------------------------------------


def test_an_end_left_empty_on_the_form_is_the_kinds_usual_length(staff_client, patient, clinician, room):
    data = form_data(patient, clinician, room, kind="intake", end_0="", end_1="")
    response = staff_client.post(reverse(ADD), data)
    assert response.status_code == 302, errors_of(response)
    row = models.Appointment.objects.get()
    assert row.end - row.start == dt.timedelta(minutes=60)


def test_an_end_given_on_the_form_wins_and_a_bad_one_is_still_refused(staff_client, patient, clinician, room):
    errors = errors_of(staff_client.post(reverse(ADD), form_data(patient, clinician, room, kind="intake", minutes=-10)))
    assert "end after it starts" in errors["end"][0]
    response = staff_client.post(reverse(ADD), form_data(patient, clinician, room, kind="intake", minutes=45))
    assert (
        response.status_code == 302
        and models.Appointment.objects.get().end - models.Appointment.objects.get().start == dt.timedelta(minutes=45)
    )


def test_the_form_says_how_long_each_kind_lasts_when_the_end_is_left_empty(staff_client):
    help_text = staff_client.get(reverse(ADD)).context["adminform"].form.fields["end"].help_text
    assert "empty" in help_text and "intake 60 min" in help_text and "therapy 50 min" in help_text


def test_a_link_with_a_start_and_a_kind_prefills_the_end_from_the_kind(staff_client, clinician):
    initial = (
        staff_client.get(reverse(ADD), {"clinician": clinician.pk, "start": "2030-01-07T09:00", "kind": "intake"})
        .context["adminform"]
        .form.initial
    )
    assert initial["end"] - initial["start"] == dt.timedelta(minutes=60) and initial["kind"] == "intake"
    explicit = staff_client.get(reverse(ADD), {"start": "2030-01-07T09:00", "end": "2030-01-07T09:20"})
    assert explicit.context["adminform"].form.initial["end"] - explicit.context["adminform"].form.initial[
        "start"
    ] == dt.timedelta(minutes=20)
    backwards = staff_client.get(reverse(ADD), {"start": "2030-01-07T09:00", "end": "2030-01-07T08:00"})
    assert backwards.context["adminform"].form.initial["end"].hour == 9  # not before the start: the kind's end


def test_a_series_planned_without_a_first_end_books_the_kinds_usual_length(staff_client, patient, clinician, room):
    data = {**series_data(patient, clinician, room, end_0="", end_1="", kind="medication_management"), "_book": "1"}
    response = staff_client.post(reverse("admin:appointments_appointmentseries_plan"), data)
    assert response.status_code == 302, response.context["form"].errors
    lengths = {row.end - row.start for row in models.Appointment.objects.all()}
    assert lengths == {dt.timedelta(minutes=30)} and models.Appointment.objects.count() == 4
