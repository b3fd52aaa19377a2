"""Rooms are written through appointments.services.room_save, from the admin as from anywhere."""

import pytest
from django.test import RequestFactory

from appointments import models, services
from appointments.admin import RoomAdmin
from novamind import roles
from novamind.domain import AccessDenied
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db


def test_a_practice_admin_adds_and_renames_a_room_through_the_admin(client):
    office = member("office", roles.PRACTICE_ADMIN)
    client.force_login(office)
    response = client.post("/admin/appointments/room/add/", {"name": "Room 7", "is_active": "on", "version": 0})
    assert response.status_code == 302, response.context["adminform"].form.errors
    room = models.Room.objects.get(name="Room 7")
    assert room.created_by == office
    response = client.post(
        f"/admin/appointments/room/{room.pk}/change/", {"name": "Room 8", "is_active": "on", "version": room.version}
    )
    assert response.status_code == 302
    assert models.Room.objects.get(pk=room.pk).name == "Room 8"
    assert models.Room.history.filter(id=room.pk).count() == 2


def test_the_room_admin_saves_through_the_rooms_service(monkeypatch):
    office = member("office", roles.PRACTICE_ADMIN)
    calls = []
    monkeypatch.setattr(services, "room_save", lambda **kwargs: calls.append(kwargs))
    request = RequestFactory().post("/")
    request.user = office
    room = models.Room(name="Room 9")
    RoomAdmin(models.Room, None).save_model(request, room, None, False)
    assert calls == [{"room": room, "actor": office}]


def test_a_user_without_the_room_permissions_may_not_add_or_change_a_room():
    clinician = member("drlee", roles.CLINICIAN)
    with pytest.raises(AccessDenied):
        services.room_save(room=models.Room(name="Room 10"), actor=clinician)
    office = member("office", roles.PRACTICE_ADMIN)
    room = services.room_save(room=models.Room(name="Room 11"), actor=office)
    room.name = "Room 12"
    with pytest.raises(AccessDenied):
        services.room_save(room=room, actor=clinician)
    assert models.Room.objects.get(pk=room.pk).name == "Room 11"
