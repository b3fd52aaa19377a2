"""The prescribe and revise forms: what the prescriber sees, and where the warnings are."""

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from medications import domain, models, services
from medications.tests.pages import order_form
from novamind.domain import RuleViolation

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


# --- Alerts where the eye is: allergy, duplicate and dose-change warnings at the top ---------------


@pytest.fixture
def lithium(orders, patient):
    return orders.add(
        domain.MedicationOrder(
            patient_id=patient.id,
            drug_name="lithium carbonate",
            strength="300 mg",
            dose_form=domain.DoseForm.CAPSULE,
            dose_amount=Decimal("300"),
            dose_unit=domain.DoseUnit.MG,
            route=domain.Route.ORAL,
            frequency=domain.Frequency(kind=domain.FrequencyKind.TWICE_DAILY),
            start_date=timezone.localdate() - dt.timedelta(days=30),
            quantity=Decimal("60"),
            refills=1,  # (the pages' helper drops a value that equals False, so not 0)
        )
    )


def revise_data(page, **changes):
    data = {**page.context["form"].initial, **changes}
    return {key: value for key, value in data.items() if value not in (None, False)}


def alerts_of(html: str) -> str:
    """Return the alerts box of a page (empty when it has none)."""
    found = re.search(r'<fieldset class="module aligned alerts".*?</fieldset>', html, re.S)
    return found.group(0) if found else ""


def before(html: str, first: str, then: str) -> bool:
    return -1 < html.find(first) < html.find(then)


def test_a_revision_to_a_dose_150_times_lower_is_held_until_confirmed_at_the_top(lee_client, lithium):
    revise = url("revise", lithium.id)
    response = lee_client.post(revise, revise_data(lee_client.get(revise), dose_amount="2"))
    assert response.status_code == 200 and models.MedicationOrder.objects.count() == 1
    html = response.content.decode()
    alerts = alerts_of(html)
    assert "The dose changes from 300 mg to 2 mg, 150 times lower" in alerts
    assert re.search(r'<input type="checkbox" name="confirm_dose_change" value="2 mg"', alerts)
    assert before(html, "The dose changes from", 'name="strength"')  # above the order's fields
    confirmed = lee_client.post(
        revise, {**revise_data(lee_client.get(revise), dose_amount="2"), "confirm_dose_change": "2 mg"}
    )
    assert confirmed.status_code == 302
    new = models.MedicationOrder.objects.get(replaces=lithium.id)
    assert new.dose_amount == "2"
    assert new.history.get().history_change_reason.endswith("(large dose change confirmed)")


def test_a_confirmation_of_one_dose_does_not_confirm_another(lee_client, lithium):
    revise = url("revise", lithium.id)
    data = revise_data(lee_client.get(revise), dose_amount="3", confirm_dose_change="2 mg")
    response = lee_client.post(revise, data)
    assert response.status_code == 200 and models.MedicationOrder.objects.count() == 1
    assert 'value="3 mg"' in alerts_of(response.content.decode())


def test_a_change_of_unit_needs_confirming_too(lee_client, lithium):
    revise = url("revise", lithium.id)
    response = lee_client.post(revise, revise_data(lee_client.get(revise), dose_unit="mcg"))
    assert "The dose unit changes from mg to mcg (300 mg to 300 mcg)" in alerts_of(response.content.decode())
    assert models.MedicationOrder.objects.count() == 1


def test_a_small_change_needs_no_confirmation_and_shows_no_alerts(lee_client, lithium):
    revise = url("revise", lithium.id)
    page = lee_client.get(revise)
    assert (
        alerts_of(page.content.decode()) == ""
        and 'type="checkbox" name="confirm_dose_change"' not in page.content.decode()
    )
    assert lee_client.post(revise, revise_data(page, dose_amount="600")).status_code == 302
    new = models.MedicationOrder.objects.get(replaces=lithium.id)
    assert new.history.get().history_change_reason == f"Revised: replaces order {str(lithium.id)[:8]}"


def test_the_factor_is_the_clinics_setting(lee_client, lithium, settings):
    settings.NOVAMIND_DOSE_CHANGE_FACTOR = 10
    revise = url("revise", lithium.id)
    assert lee_client.post(revise, revise_data(lee_client.get(revise), dose_amount="50")).status_code == 302


def test_prescribing_warns_of_the_duplicate_and_the_dose_change_at_the_top_and_needs_both_answered(
    lee_client, patient, lithium
):
    data = order_form(
        patient.id, drug_name="lithium carbonate", strength="300 mg", dose_form="capsule", dose_amount="1500"
    )
    response = lee_client.post(reverse(ADD), data)
    assert response.status_code == 200 and models.MedicationOrder.objects.count() == 1
    html = response.content.decode()
    alerts = alerts_of(html)
    assert "duplicates the current order of lithium carbonate 300 mg capsule" in alerts
    assert "The dose changes from 300 mg to 1500 mg, 5 times higher, compared with the last order" in alerts
    assert before(html, "duplicates the current order", 'name="patient"')  # the top of the form
    assert 'name="duplicate_override_reason"' in alerts and 'value="1500 mg"' in alerts
    assert html.count('name="duplicate_override_reason"') == 1  # moved up, not shown twice
    response = lee_client.post(reverse(ADD), {**data, "duplicate_override_reason": "Cross-over week."})
    assert response.status_code == 200 and "The dose changes" in alerts_of(response.content.decode())
    response = lee_client.post(
        reverse(ADD), {**data, "duplicate_override_reason": "Cross-over week.", "confirm_dose_change": "1500 mg"}
    )
    assert response.status_code == 302
    new = models.MedicationOrder.objects.exclude(pk=lithium.id).get()
    assert new.duplicate_override_reason == "Cross-over week."
    assert new.history.get().history_change_reason == "Prescribed (duplicate override; large dose change confirmed)"


def test_an_allergy_warning_is_at_the_top_of_the_prescribe_form(lee_client, patient, allergies):
    allergies.add(domain.Allergy(patient_id=patient.id, substance="SSRIs", severity=domain.AllergySeverity.SEVERE))
    html = lee_client.post(reverse(ADD), order_form(patient.id)).content.decode()
    alerts = alerts_of(html)
    assert "matches the recorded allergy to “SSRIs”" in alerts and 'name="allergy_override_reason"' in alerts
    assert before(html, "matches the recorded allergy", 'name="patient"')


def test_an_allergy_warning_is_at_the_top_of_the_revise_form(lee_client, patient, allergies, lithium):
    allergies.add(domain.Allergy(patient_id=patient.id, substance="lithium", severity=domain.AllergySeverity.MODERATE))
    revise = url("revise", lithium.id)
    html = lee_client.post(revise, revise_data(lee_client.get(revise), dose_amount="450")).content.decode()
    assert "matches the recorded allergy to “lithium”" in alerts_of(html)
    assert before(html, "matches the recorded allergy", 'name="strength"')
    assert html.count('name="allergy_override_reason"') == 1


def test_the_service_and_the_repository_refuse_a_large_change_without_the_confirmation(drlee, orders, lithium):
    two = dataclasses.replace(lithium, dose_amount=Decimal("2"))
    with pytest.raises(RuleViolation) as caught:
        services.order_revise(order=two, actor=drlee)
    assert set(caught.value.errors) == {"dose_change_confirmed"}
    with pytest.raises(RuleViolation):
        orders.update(two)  # the repository's generic update revises: same rule
    with pytest.raises(RuleViolation):
        services.order_prescribe(
            order=dataclasses.replace(
                lithium, id=None, audit=None, dose_amount=Decimal("2"), duplicate_override_reason="x"
            ),
            actor=drlee,
        )
    assert models.MedicationOrder.objects.count() == 1
    new = services.order_revise(order=dataclasses.replace(two, dose_change_confirmed=True), actor=drlee)
    assert new.dose == "2 mg"
    record = models.MedicationOrder.history.filter(id=new.id).get()
    assert record.history_change_reason.endswith("(large dose change confirmed)") and record.history_user == drlee


def test_a_factor_that_is_not_above_one_stops_the_start(settings):
    from django.core.checks import run_checks

    settings.NOVAMIND_DOSE_CHANGE_FACTOR = 1
    assert "novamind.E060" in {message.id for message in run_checks()}
    settings.NOVAMIND_DOSE_CHANGE_FACTOR = 4
    assert "novamind.E060" not in {message.id for message in run_checks()}


@pytest.mark.parametrize("field", ["start_date", "end_date"])
def test_an_impossible_date_on_the_revise_form_is_one_error(lee_client, lithium, field):
    revise = url("revise", lithium.id)
    response = lee_client.post(revise, revise_data(lee_client.get(revise), **{field: "13/45/1990"}))
    assert response.context["form"].errors[field] == ["Enter a valid date."]


def test_an_impossible_date_on_the_discontinue_form_is_one_error(lee_client, lithium):
    data = {"discontinue_reason": "adverse_effect", "discontinued_on": "13/45/1990", "version": "1"}
    response = lee_client.post(url("discontinue", lithium.id), data)
    assert response.context["form"].errors["discontinued_on"] == ["Enter a valid date."]
