"""The clinician and room pickers: booking pages send the chosen one, and find the others as staff type.

As plain selects they listed every bookable clinician and every room on each page, which grew
with the clinic (400 of each at the benchmark's 100,000 patients).
"""

import re

import pytest
from django.urls import reverse

from appointments import domain, models, services
from appointments.tests.conftest import local, make_clinician, make_patient, make_room
from novamind import audit, roles
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db

SEARCH = "admin:appointments_clinician_search"
PAGES = (
    "admin:appointments_appointment_add",
    "admin:appointments_appointment_day",
    "admin:appointments_appointment_week",
    "admin:appointments_appointment_free_slots",
    "admin:appointments_appointmentseries_plan",
)


def options(html: str, name: str) -> list[str]:
    """Return the non-empty option values of the select called `name`."""
    found = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found, f"no <select name={name!r}> on the page"
    return [value for value in re.findall(r'<option value="([^"]*)"', found.group(1)) if value]


@pytest.fixture
def desk(db):
    return member("desk", roles.FRONT_DESK)


@pytest.fixture
def clinic(desk):
    """Six clinicians (one of them chosen by the addresses below), six rooms, one retired."""
    clinicians = [make_clinician(f"dr{n}", actor=desk) for n in "abcdef"]
    rooms = [make_room(desk, f"Room {n}") for n in range(1, 7)]
    retired = rooms[-1]
    retired.is_active = False
    audit.audited_save(retired, actor=desk)
    return clinicians, rooms


@pytest.mark.parametrize("page", PAGES)
def test_a_booking_page_sends_the_chosen_clinician_and_room_not_every_one(client, desk, clinic, page):
    clinicians, rooms = clinic
    client.force_login(desk)
    chosen = clinicians[2]
    response = client.get(reverse(page), {"clinician": chosen.pk, "room": rooms[1].pk})
    assert response.status_code == 200
    html = response.content.decode()
    # The chosen one at most (the series page does not take a choice from its address).
    assert set(options(html, "clinician")) <= {str(chosen.pk)}
    if '<select name="room"' in html:
        assert set(options(html, "room")) <= {str(rooms[1].pk)}
    assert reverse(SEARCH) in html  # the picker asks the search as staff type


def test_a_reschedule_page_sends_the_appointment_s_clinician_only(client, desk, clinic):
    clinicians, rooms = clinic
    patient = make_patient(desk)
    appointment = services.appointment_book(
        actor=desk,
        appointment=domain.Appointment(
            patient_id=patient.id, clinician_id=clinicians[0].pk, start=local(2), end=None, room_id=rooms[0].pk
        ),
    )
    client.force_login(desk)
    response = client.get(reverse("admin:appointments_appointment_reschedule", args=[appointment.id]))
    html = response.content.decode()
    assert options(html, "clinician") == [str(clinicians[0].pk)]
    assert options(html, "room") == [str(rooms[0].pk)]


def test_the_clinician_search_finds_bookable_clinicians_by_every_word_typed(client, desk, clinic):
    clinicians, _ = clinic
    client.force_login(desk)
    found = client.get(reverse(SEARCH), {"term": "drc phd"}).json()
    assert found == {
        "results": [{"id": str(clinicians[2].pk), "text": "Drc Drc, PhD"}],
        "pagination": {"more": False},
    }
    everyone = client.get(reverse(SEARCH)).json()["results"]
    assert [hit["id"] for hit in everyone] == [str(user.pk) for user in clinicians]
    assert str(desk.pk) not in {hit["id"] for hit in everyone}  # not a clinician: cannot be booked


def test_the_clinician_search_pages_its_hits(client, desk):
    for number in range(25):
        make_clinician(f"dr{number:02d}", actor=desk)
    client.force_login(desk)
    first = client.get(reverse(SEARCH)).json()
    second = client.get(reverse(SEARCH), {"page": 2}).json()
    assert len(first["results"]) == 20 and first["pagination"]["more"] is True
    assert len(second["results"]) == 5 and second["pagination"]["more"] is False


def test_a_clinician_looking_for_free_time_finds_only_themself(client, desk, clinic):
    me = member("drme", roles.CLINICIAN, profile={"is_clinician": True, "credentials": "MD"})
    client.force_login(me)
    for_slots = client.get(reverse(SEARCH), {"for": "slots"}).json()["results"]
    assert [hit["id"] for hit in for_slots] == [str(me.pk)]
    assert len(client.get(reverse(SEARCH)).json()["results"]) == 7  # booking pages: every clinician


def test_a_role_without_the_schedule_is_refused_the_clinician_search(client, clinic):
    auditor = member("audrey", roles.AUDITOR)
    client.force_login(auditor)
    assert client.get(reverse(SEARCH), {"term": "dr"}).status_code == 403


def test_the_room_picker_offers_the_rooms_in_use_only(client, desk, clinic):
    _, rooms = clinic
    client.force_login(desk)
    found = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "appointments", "model_name": "appointment", "field_name": "room", "term": "Room"},
    ).json()
    assert [hit["text"] for hit in found["results"]] == [room.name for room in rooms[:-1]]
    assert models.Room.objects.filter(is_active=False).count() == 1
