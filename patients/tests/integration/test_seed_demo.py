"""seed_demo: demo staff and patients, attributed, and nothing new on a second run."""

import pytest
from django.contrib.auth import get_user_model, password_validation
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from clinic.management.commands.seed_demo import DEMO_STAFF
from patients import models

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_seed_demo_prints_credentials_that_work_and_creates_attributed_patients(client):
    output = run("--patients", "25")
    line = next(row for row in output.splitlines() if row.strip().startswith("frontdesk"))
    password = line.split()[1]
    for username, *_ in DEMO_STAFF:  # every printed password passes AUTH_PASSWORD_VALIDATORS
        shown = next(row for row in output.splitlines() if row.strip().startswith(username + " ")).split()[1]
        password_validation.validate_password(shown, get_user_model().objects.get(username=username))
    # Through the real login form: django-axes needs the request that client.login() lacks.
    response = client.post("/admin/login/", {"username": "frontdesk", "password": password})
    assert response.status_code == 302 and client.session.get("_auth_user_id")
    assert models.Patient.objects.count() == 25
    admin = get_user_model().objects.get(username="admin")
    assert set(models.Patient.objects.values_list("created_by", flat=True)) == {admin.pk}
    assert set(models.Patient.history.values_list("history_user", flat=True)) == {admin.pk}
    assert get_user_model().objects.get(username="drlee").staff_profile.is_prescriber


def test_seed_demo_twice_creates_nothing_new_and_keeps_passwords():
    run("--patients", "10")
    before = (
        models.Patient.objects.count(),
        models.Patient.history.count(),
        get_user_model().objects.get(username="admin").password,
    )
    second = run("--patients", "10")
    assert "unchanged" in second
    after = (
        models.Patient.objects.count(),
        models.Patient.history.count(),
        get_user_model().objects.get(username="admin").password,
    )
    assert after == before


def test_seed_demo_is_refused_in_production_and_checks_its_arguments():
    with override_settings(PRODUCTION=True), pytest.raises(CommandError, match="production"):
        run()
    with pytest.raises(CommandError, match="between"):
        run("--patients", "-1")
