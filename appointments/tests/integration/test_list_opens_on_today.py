"""The appointment list opens on today, in the clinic's time zone; every other day is a click away."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import models

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:appointments_appointment_changelist"


def noon(days=0):
    return timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=days), dt.time(12)))


@pytest.fixture
def three_days(repo, visit, other_patient, other_room):
    """Appointments yesterday, today and tomorrow at noon, in that order."""
    return [
        repo.add(
            visit(start=noon(days), **({"patient_id": other_patient.id, "room_id": other_room.pk} if days else {}))
        )
        for days in (-1, 0, 1)
    ]


def shown(response):
    return [row.pk for row in response.context["cl"].result_list]


def date_choices(response):
    spec = next(spec for spec in response.context["cl"].filter_specs if spec.title == "start")
    return {choice["display"]: choice for choice in spec.choices(response.context["cl"])}


def test_the_list_opens_on_todays_appointments_with_today_chosen(staff_client, three_days):
    response = staff_client.get(reverse(CHANGELIST))
    assert shown(response) == [three_days[1].id]
    assert date_choices(response)["Today"]["selected"]
    assert response.context["shown_day"] == timezone.localdate()
    assert "Today" in response.content.decode()


def test_any_date_shows_every_day_and_stays_so(staff_client, three_days):
    any_date = date_choices(staff_client.get(reverse(CHANGELIST)))["Any date"]
    response = staff_client.get(reverse(CHANGELIST) + any_date["query_string"])
    assert shown(response) == [item.id for item in three_days]
    assert date_choices(response)["Any date"]["selected"] and response.context["shown_day"] is None


def test_the_previous_and_next_day_are_one_click_away(staff_client, three_days):
    opened = staff_client.get(reverse(CHANGELIST))
    after = staff_client.get(opened.context["next_day_url"])
    before = staff_client.get(opened.context["previous_day_url"])
    assert shown(after) == [three_days[2].id] and after.context["shown_day"] == timezone.localdate() + dt.timedelta(1)
    assert shown(before) == [three_days[0].id]
    page = opened.content.decode().replace("&amp;", "&")
    assert opened.context["next_day_url"] in page and opened.context["previous_day_url"] in page


def test_tomorrow_and_the_coming_week_are_choices_too(staff_client, three_days):
    choices = date_choices(staff_client.get(reverse(CHANGELIST)))
    assert shown(staff_client.get(reverse(CHANGELIST) + choices["Tomorrow"]["query_string"])) == [three_days[2].id]
    coming = staff_client.get(reverse(CHANGELIST) + choices["Next 7 days"]["query_string"])
    assert shown(coming) == [three_days[1].id, three_days[2].id]


def test_a_filter_chosen_on_todays_list_keeps_today(staff_client, three_days, clinician):
    opened = staff_client.get(reverse(CHANGELIST))
    spec = next(spec for spec in opened.context["cl"].filter_specs if spec.title == "clinician")
    link = next(choice for choice in spec.choices(opened.context["cl"]) if choice["display"].startswith("Drwho"))
    assert "start__gte" in parse_qs(urlsplit(link["query_string"]).query)
    assert shown(staff_client.get(reverse(CHANGELIST) + link["query_string"])) == [three_days[1].id]


def test_an_address_with_filters_keeps_its_meaning(staff_client, three_days, clinician):
    assert len(shown(staff_client.get(reverse(CHANGELIST), {"clinician": clinician.pk}))) == 3
    assert len(shown(staff_client.get(reverse(CHANGELIST), {"q": "NM00000000"}))) == 0  # a search: no date implied
    day = timezone.localdate() + dt.timedelta(days=1)
    by_date = staff_client.get(
        reverse(CHANGELIST), {"start__year": day.year, "start__month": day.month, "start__day": day.day}
    )
    assert shown(by_date) == [three_days[2].id]


def test_select_all_on_the_list_opened_on_today_acts_on_todays_appointments_only(staff_client, three_days):
    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "check_in_selected", "select_across": "1", "index": "0", "_selected_action": [three_days[1].id]},
    )
    assert response.status_code == 302
    statuses = [models.Appointment.objects.get(pk=item.id).status for item in three_days]
    assert statuses == ["scheduled", "checked_in", "scheduled"]


@pytest.mark.parametrize(
    "params",
    [
        {"start__gte": "2026-13-45 00:00:00", "start__lt": "2026-13-46 00:00:00"},
        {"start__gte": "garbage"},
        {"start__gte": "2026-03-03 00:00:00", "start__lt": "2026-03-04 00:00:00"},  # no zone: no day shown
        {"start__any": "garbage"},
    ],
)
def test_a_mangled_date_in_the_address_is_no_server_error(staff_client, params):
    assert staff_client.get(reverse(CHANGELIST), params).status_code in (200, 302)


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31 23:59:59", "0001-01-01 00:00:00+05:00", "2026-03-03"])
def test_far_dates_in_the_address_are_no_server_error(staff_client, value):
    assert staff_client.get(reverse(CHANGELIST), {"start__gte": value}).status_code in (200, 302)
    assert staff_client.get(reverse(CHANGELIST), {"start__lt": value}).status_code in (200, 302)
