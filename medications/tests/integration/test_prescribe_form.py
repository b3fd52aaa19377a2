"""The prescribe and revise forms: what the prescriber sees, and where the warnings are."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

ADD = "admin:medications_medicationorder_add"


def url(name, *args):
    return reverse(f"admin:medications_medicationorder_{name}", args=args)


@pytest.fixture
def lee_client(client, drlee):
    client.force_login(drlee)
    return client


def test_the_prescribe_form_carries_the_version_hidden_never_as_a_field(lee_client, patient):
    page = lee_client.get(reverse(ADD), {"patient": str(patient.id)}).content.decode()
    tags = re.findall(r"<input[^>]*name=\"version\"[^>]*>", page)
    assert len(tags) == 1 and 'type="hidden"' in tags[0]
    assert re.search(r'<div class="form-row hidden field-version">', page)  # its label too
