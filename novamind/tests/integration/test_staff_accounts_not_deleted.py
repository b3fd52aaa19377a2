"""A staff account is deactivated, never deleted: no delete page, no bulk delete, for anyone."""

import pytest
from django.urls import reverse

from conftest import make_staff

pytestmark = pytest.mark.django_db


def test_not_even_a_superuser_can_delete_a_staff_account(client):
    root, leaving = make_staff("root", superuser=True), make_staff("leaving")
    client.force_login(root)
    assert client.get(reverse("admin:auth_user_delete", args=[leaving.pk])).status_code == 403
    assert client.post(reverse("admin:auth_user_delete", args=[leaving.pk]), {"post": "yes"}).status_code == 403
    changelist = client.get(reverse("admin:auth_user_changelist"))
    assert b'value="delete_selected"' not in changelist.content
    client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [leaving.pk], "post": "yes"},
    )
    leaving.refresh_from_db()
    assert leaving.is_active
