"""An access-log entry's page shows everything the entry holds, read-only, and whether its chain holds."""

import re

import pytest
from django.urls import reverse
from django.utils.text import capfirst

from novamind import access, roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member

pytestmark = pytest.mark.django_db


@pytest.fixture
def auditor(db):
    return member("audrey", roles.AUDITOR)


@pytest.fixture
def entries(staff, rf):
    request = rf.get("/admin/", REMOTE_ADDR="10.1.2.3")
    staff.last_name = "Liddell"
    staff.save()
    first = access.record(user=staff, action="list", category="demographics", detail="3 result(s), page 1")
    second = access.record(
        user=staff,
        action="history version",
        category="clinical notes",
        patient=access.PatientRef("8f4c1d5e-2b7a-4f0e-9a52-3c1d2e4f5a6b", "NM12345678"),
        obj=staff,
        request=request,
        detail="history entry 7",
        emergency=True,
    )
    return first, second


def page(client, entry):
    return client.get(reverse("admin:novamind_accesslogentry_change", args=[entry.pk]))


def test_an_entry_page_shows_when_who_what_whose_and_from_where(client, auditor, entries):
    client.force_login(auditor)
    entry = entries[1]
    response = page(client, entry)
    assert response.status_code == 200
    fields = shown(response)
    assert fields["Who"] == "alice (Alice Liddell)"
    assert fields["Action"] == "history version"
    assert fields["Outcome"] == "granted"
    assert fields["Data category"] == "clinical notes"
    assert fields["Emergency access"] == "yes: made under an emergency access grant"
    assert fields["Detail"] == "history entry 7"
    assert fields["Patient MRN"] == "NM12345678"
    assert fields["Record"] == f"user {entry.object_id} (auth.user)"
    assert fields["From address"] == "10.1.2.3"
    assert fields["Sequence"] == str(entry.sequence)
    assert fields["Previous digest"] == entries[0].digest
    assert fields["Digest"] == entry.digest
    assert fields["Chain"].startswith("Intact")
    assert fields["When"]  # the date, in the clinic's format


def test_an_entry_page_offers_no_edit_and_no_delete(client, auditor, entries):
    client.force_login(auditor)
    entry = entries[1]
    content = page(client, entry).content.decode()
    assert 'name="_save"' not in content and "deletelink" not in content
    url = reverse("admin:novamind_accesslogentry_change", args=[entry.pk])
    assert client.post(url, {"action": "export", "detail": "changed"}).status_code == 403
    assert client.post(
        reverse("admin:novamind_accesslogentry_delete", args=[entry.pk]), {"post": "yes"}
    ).status_code in (
        403,
        404,
    )
    stored = AccessLogEntry.objects.get(pk=entry.pk)
    assert (stored.action, stored.detail) == ("history version", "history entry 7")


def test_an_altered_entry_says_so_on_its_page(client, auditor, entries, hostile_dba):
    hostile_dba("UPDATE novamind_accesslogentry SET action = 'export' WHERE sequence = %s", [entries[1].sequence])
    client.force_login(auditor)
    chain = shown(page(client, entries[1]))["Chain"]
    assert "altered" in chain and not chain.startswith("Intact")


def test_an_entry_after_a_deleted_one_says_so_on_its_page(client, auditor, entries, hostile_dba):
    third = access.record(user=auditor, action="list", category="access log")
    hostile_dba("DELETE FROM novamind_accesslogentry WHERE sequence = %s", [entries[1].sequence])
    client.force_login(auditor)
    chain = shown(page(client, third))["Chain"]
    assert f"#{entries[1].sequence} is missing" in chain and not chain.startswith("Intact")


def shown(response) -> dict[str, str]:
    """Return each read-only field of the page: its label, and its text without markup."""
    return {
        capfirst(str(field.field["label"])): " ".join(re.sub(r"<[^>]+>", " ", str(field.contents())).split())
        for fieldset in response.context["adminform"]
        for line in fieldset
        for field in line
    }
