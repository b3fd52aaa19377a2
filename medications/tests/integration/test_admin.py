"""The medication admin: prescribe with checks next to the fields; orders change only through actions."""

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from medications import domain, models, repository
from medications.tests.pages import errors_of, form_data, order_form

pytestmark = pytest.mark.django_db

ADD = "admin:medications_medicationorder_add"


def url(name, *args):
    return reverse(f"admin:medications_medicationorder_{name}", args=args)


@pytest.fixture
def lee_client(client, drlee):
    client.force_login(drlee)
    return client


@pytest.fixture
def sertraline(orders, patient):
    order = domain.MedicationOrder(
        patient_id=patient.id,
        drug_name="sertraline",
        strength="50 mg",
        dose_form=domain.DoseForm.TABLET,
        dose_amount=Decimal("50"),
        dose_unit=domain.DoseUnit.MG,
        route=domain.Route.ORAL,
        frequency=domain.Frequency(kind=domain.FrequencyKind.ONCE_DAILY),
        start_date=timezone.localdate() - dt.timedelta(days=10),
        quantity=Decimal("30"),
        refills=2,
    )
    return orders.add(order)


def test_prescribing_in_the_admin_writes_the_order_in_the_signed_in_prescribers_name(lee_client, patient, drlee):
    response = lee_client.post(reverse(ADD), order_form(patient.id, instructions="Take with breakfast."))
    assert response.status_code == 302, errors_of(response)
    order = models.MedicationOrder.objects.get()
    assert order.prescriber == drlee and order.created_by == drlee and order.instructions == "Take with breakfast."
    record = order.history.get()
    assert record.history_user == drlee and record.history_change_reason == "Prescribed"
    assert LogEntry.objects.get().object_repr == f"medication order {str(order.pk)[:8]}"


def test_the_add_page_can_be_opened_for_a_patient_and_starts_today(lee_client, patient):
    response = lee_client.get(reverse(ADD), {"patient": str(patient.id)})
    form = response.context["adminform"].form
    assert str(form["patient"].value()) == str(patient.id)
    assert form["start_date"].value() == timezone.localdate()


@pytest.mark.parametrize(
    "changes, field, text",
    [
        ({"dose_amount": "-5"}, "dose_amount", "more than zero"),
        ({"quantity": "0"}, "quantity", "more than zero"),
        ({"end_date": "2000-01-01"}, "end_date", "before the start date"),
        ({"drug_name": "methylphenidate", "schedule": "II", "refills": "1"}, "refills", "cannot be refilled"),
        ({"frequency_kind": "every_n_hours"}, "frequency_interval", "number of hours"),
        ({"frequency_kind": "as_needed"}, "prn_indication", "indication"),
        ({"drug_name": "Xanax", "refills": "0"}, "schedule", "schedule IV"),
    ],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_saved(lee_client, patient, changes, field, text):
    response = lee_client.post(reverse(ADD), order_form(patient.id, **changes))
    assert response.status_code == 200
    assert text in " ".join(errors_of(response)[field])
    assert models.MedicationOrder.objects.count() == 0 and models.MedicationOrder.history.count() == 0


def test_a_number_that_is_not_a_number_is_reported_once(lee_client, patient):
    response = lee_client.post(reverse(ADD), order_form(patient.id, dose_amount="abc"))
    errors = errors_of(response)
    assert errors["dose_amount"] == ["Enter a number."] and "__all__" not in errors


def test_a_non_prescriber_is_told_why_and_nothing_is_saved(staff_client, patient):
    response = staff_client.post(reverse(ADD), order_form(patient.id))
    assert response.status_code == 200
    assert "Only prescribers prescribe" in " ".join(errors_of(response)["__all__"])
    assert models.MedicationOrder.objects.count() == 0


def test_a_controlled_substance_without_a_dea_number_is_refused(client, drnodea, patient):
    client.force_login(drnodea)
    response = client.post(reverse(ADD), order_form(patient.id, drug_name="lorazepam", schedule="IV", refills="0"))
    assert "DEA number" in " ".join(errors_of(response)["__all__"])
    assert models.MedicationOrder.objects.count() == 0


def test_an_allergy_match_is_shown_at_the_override_field_and_the_reason_is_recorded(lee_client, patient, allergies):
    allergies.add(domain.Allergy(patient_id=patient.id, substance="SSRIs", severity=domain.AllergySeverity.SEVERE))
    response = lee_client.post(reverse(ADD), order_form(patient.id))
    assert response.status_code == 200
    assert "matches the recorded allergy to “SSRIs”" in " ".join(errors_of(response)["allergy_override_reason"])
    assert models.MedicationOrder.objects.count() == 0
    response = lee_client.post(reverse(ADD), order_form(patient.id, allergy_override_reason="Tolerated it in 2019."))
    assert response.status_code == 302
    order = models.MedicationOrder.objects.get()
    assert order.allergy_override_reason == "Tolerated it in 2019."
    assert order.history.get().history_change_reason == "Prescribed (allergy override)"


def test_a_duplicate_is_shown_at_its_override_field_and_the_reason_is_recorded(lee_client, patient, sertraline):
    fluoxetine = order_form(patient.id, drug_name="fluoxetine", strength="20 mg", dose_amount="20")
    response = lee_client.post(reverse(ADD), fluoxetine)
    assert "two SSRIs at once" in " ".join(errors_of(response)["duplicate_override_reason"])
    assert models.MedicationOrder.objects.count() == 1
    response = lee_client.post(reverse(ADD), {**fluoxetine, "duplicate_override_reason": "Cross-taper."})
    assert response.status_code == 302
    assert models.MedicationOrder.objects.exclude(pk=sertraline.id).get().duplicate_override_reason == "Cross-taper."


def test_an_order_page_is_read_only_and_cannot_be_posted_or_reverted(lee_client, sertraline, patient):
    page = lee_client.get(url("change", sertraline.id))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    assert "sertraline 50 mg tablet — 50 mg by mouth once daily" in page.content.decode()
    assert lee_client.post(url("change", sertraline.id), order_form(patient.id, dose_amount="100")).status_code == 403
    record = models.MedicationOrder.history.get()
    revert = url("simple_history", sertraline.id, record.history_id)
    assert lee_client.get(revert).status_code == 200
    assert lee_client.post(revert, order_form(patient.id, dose_amount="100")).status_code == 403
    assert models.MedicationOrder.objects.get().dose_amount == "50" and models.MedicationOrder.history.count() == 1


def test_the_order_page_offers_the_actions_to_prescribers_only(lee_client, client, staff, sertraline):
    page = lee_client.get(url("change", sertraline.id)).content.decode()
    assert url("revise", sertraline.id) in page and url("discontinue", sertraline.id) in page and 'value="hold"' in page
    client.force_login(staff)
    page = client.get(url("change", sertraline.id)).content.decode()
    assert url("revise", sertraline.id) not in page


def test_revising_in_the_admin_links_a_new_order_and_closes_the_old_one(lee_client, sertraline):
    page = lee_client.get(url("revise", sertraline.id))
    data = {**page.context["form"].initial, "dose_amount": "100", "quantity": "60"}
    data = {key: value for key, value in data.items() if value not in (None, False)}
    response = lee_client.post(url("revise", sertraline.id), data)
    assert response.status_code == 302
    old = models.MedicationOrder.objects.get(pk=sertraline.id)
    new = old.replaced_by
    assert response.url == url("change", new.pk)
    assert old.status == "discontinued" and old.discontinue_reason == "changed"
    assert new.dose_amount == "100" and new.quantity == Decimal("60") and new.status == "active"
    timeline = lee_client.get(url("change", new.pk)).content.decode()
    assert f"order {str(old.pk)[:8]}" in timeline and "revises" in timeline


def revise_data(page, **changes):
    data = {**page.context["form"].initial, **changes}
    return {key: value for key, value in data.items() if value not in (None, False)}


def test_a_bad_revision_is_shown_next_to_its_field_and_nothing_is_written(lee_client, sertraline):
    page = lee_client.get(url("revise", sertraline.id))
    response = lee_client.post(
        url("revise", sertraline.id), revise_data(page, dose_amount="-100", start_date="2999-01-01")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "more than zero" in errors["dose_amount"][0] and "start_date" in errors
    response = lee_client.post(url("revise", sertraline.id), revise_data(page))
    assert "Nothing was changed" in response.context["form"].non_field_errors()[0]
    assert models.MedicationOrder.objects.count() == 1 and models.MedicationOrder.history.count() == 1


def test_a_stale_revision_is_refused(lee_client, orders, sertraline):
    page = lee_client.get(url("revise", sertraline.id))
    orders.hold(sertraline.id)
    response = lee_client.post(url("revise", sertraline.id), revise_data(page, dose_amount="100"))
    assert "changed by someone else" in response.context["form"].non_field_errors()[0]
    assert models.MedicationOrder.objects.count() == 1


def test_a_non_prescriber_cannot_revise_even_by_posting_directly(client, staff, sertraline, drlee):
    client.force_login(drlee)
    page = client.get(url("revise", sertraline.id))
    client.force_login(staff)
    response = client.post(url("revise", sertraline.id), revise_data(page, dose_amount="100"))
    assert "Only prescribers" in response.context["form"].non_field_errors()[0]
    assert models.MedicationOrder.objects.count() == 1


def test_discontinuing_in_the_admin_needs_a_reason_and_records_it(lee_client, sertraline):
    today = timezone.localdate().isoformat()
    response = lee_client.post(
        url("discontinue", sertraline.id), {"discontinue_reason": "other", "discontinued_on": today, "version": "1"}
    )
    assert "Describe the reason" in response.context["form"].errors["discontinue_note"][0]
    response = lee_client.post(
        url("discontinue", sertraline.id), {"discontinue_reason": "changed", "discontinued_on": today, "version": "1"}
    )
    assert "discontinue_reason" in response.context["form"].errors
    response = lee_client.post(
        url("discontinue", sertraline.id),
        {
            "discontinue_reason": "adverse_effect",
            "discontinued_on": today,
            "discontinue_note": "Nausea.",
            "version": "1",
        },
    )
    assert response.status_code == 302
    order = models.MedicationOrder.objects.get()
    assert (
        order.status == "discontinued"
        and order.discontinue_reason == "adverse_effect"
        and order.discontinue_note == "Nausea."
    )


def test_hold_resume_and_complete_buttons_change_the_status_or_explain_why_not(lee_client, sertraline):
    transition = url("transition", sertraline.id)
    assert lee_client.get(transition).status_code == 405
    lee_client.post(transition, {"action": "hold", "version": "1"})
    assert models.MedicationOrder.objects.get().status == "on_hold"
    response = lee_client.post(transition, {"action": "complete", "version": "2"}, follow=True)
    assert "no end date" in response.content.decode()
    response = lee_client.post(transition, {"action": "resume", "version": "1"}, follow=True)
    assert "changed by someone else" in response.content.decode()
    lee_client.post(transition, {"action": "resume", "version": "2"})
    assert models.MedicationOrder.objects.get().status == "active"
    assert lee_client.post(transition, {"action": "explode"}).status_code == 404


def test_a_version_in_other_digits_is_no_version_not_a_server_error(lee_client, sertraline):
    # "³".isdigit() is true and int("³") raises: found by the admin fuzz test.
    response = lee_client.post(url("transition", sertraline.id), {"action": "hold", "version": "³"})
    assert response.status_code == 302


def test_bulk_actions_report_what_was_done_and_what_was_refused(lee_client, orders, sertraline, patient):
    course = orders.add(
        dataclasses.replace(sertraline, id=None, audit=None, drug_name="lithium", end_date=timezone.localdate())
    )
    response = lee_client.post(
        url("changelist"),
        {"action": "complete_orders", "_selected_action": [str(sertraline.id), str(course.id)]},
        follow=True,
    )
    page = response.content.decode()
    assert f"Completed: order {str(course.id)[:8]}" in page and "no end date" in page
    assert models.MedicationOrder.objects.get(pk=course.id).status == "completed"
    assert models.MedicationOrder.objects.get(pk=sertraline.id).status == "active"


def test_garbage_or_unknown_ids_are_404(lee_client):
    for name in ("change", "revise", "discontinue", "history"):
        assert lee_client.get(url(name, "not-a-uuid")).status_code == 404, name
        assert lee_client.get(url(name, "00000000-0000-0000-0000-000000000000")).status_code in (302, 404), name


def test_the_order_list_searches_by_patient_and_never_sorts_ciphertext(lee_client, sertraline, patient):
    changelist = url("changelist")
    for term in ("robin okafor", patient.mrn, "1990-05-17"):
        assert lee_client.get(changelist, {"q": term}).context["cl"].result_count == 1, term
    assert lee_client.get(changelist, {"q": "nobody here"}).context["cl"].result_count == 0
    for column in range(1, 9):
        assert lee_client.get(changelist, {"o": str(column)}).status_code == 200


def test_orders_cannot_be_deleted(lee_client, sertraline):
    assert lee_client.get(url("delete", sertraline.id)).status_code == 403


def test_the_patient_page_shows_the_current_list_the_history_and_a_prescribe_link(
    lee_client, orders, sertraline, patient
):
    orders.revise(dataclasses.replace(sertraline, dose_amount=Decimal("100")))
    page = lee_client.get(reverse("admin:patients_patient_change", args=[patient.id]))
    inlines = {inline.opts.__class__.__name__: inline for inline in page.context["inline_admin_formsets"]}
    current = [form.original for form in inlines["CurrentMedicationInline"]]
    history = [form.original for form in inlines["MedicationHistoryInline"]]
    assert [order.dose_amount for order in current] == ["100"]
    assert [order.dose_amount for order in history] == ["50", "100"]
    html = page.content.decode()
    assert "100 mg by mouth once daily" in html and "Changed (replaced by a revised order)" in html
    assert f"{reverse(ADD)}?patient={patient.id}" in html


def test_allergies_are_added_and_retired_on_the_patient_page_attributed_to_the_user(staff_client, staff, patient):
    change = reverse("admin:patients_patient_change", args=[patient.id])
    data = form_data(staff_client.get(change))
    data.update(
        {"allergies-0-substance": "penicillin", "allergies-0-reaction": "hives", "allergies-0-severity": "moderate"}
    )
    response = staff_client.post(change, data)
    assert response.status_code == 302, response.context and [
        f.errors for i in response.context["inline_admin_formsets"] for f in i.formset.forms
    ]
    allergy = models.Allergy.objects.get()
    assert allergy.substance == "penicillin" and allergy.created_by == staff
    assert allergy.history.get().history_change_reason == "Allergy recorded"

    data = form_data(staff_client.get(change))
    data["allergies-0-status"] = "entered_in_error"
    assert staff_client.post(change, data).status_code == 302
    allergy.refresh_from_db()
    assert allergy.status == "entered_in_error" and allergy.version == 2
    assert repository.DjangoAllergyRepository(actor=staff).for_patient(patient.id) == []


def test_an_allergy_without_a_substance_is_an_error_on_its_row_and_nothing_is_saved(staff_client, patient):
    change = reverse("admin:patients_patient_change", args=[patient.id])
    data = form_data(staff_client.get(change))
    data.update({"allergies-0-reaction": "hives", "legal_first_name": "Changed"})
    response = staff_client.post(change, data)
    assert response.status_code == 200
    allergy_forms = next(
        i for i in response.context["inline_admin_formsets"] if i.opts.model is models.Allergy
    ).formset.forms
    assert allergy_forms[0].errors["substance"]
    assert models.Allergy.objects.count() == 0
    from patients import models as patients_models

    assert patients_models.Patient.objects.get().legal_first_name == "Robin"


def test_a_stale_allergy_edit_is_refused_and_the_first_edit_survives(client, staff, other_staff, patient, allergies):
    allergy = allergies.add(domain.Allergy(patient_id=patient.id, substance="penicillin"))
    change = reverse("admin:patients_patient_change", args=[patient.id])
    client.force_login(staff)
    stale = form_data(client.get(change))
    client.force_login(other_staff)
    fresh = form_data(client.get(change))
    fresh["allergies-0-reaction"] = "anaphylaxis"
    assert client.post(change, fresh).status_code == 302
    client.force_login(staff)
    stale["allergies-0-reaction"] = "rash"
    response = client.post(change, stale)
    assert response.status_code == 200
    assert models.Allergy.objects.get(pk=allergy.id).reaction == "anaphylaxis"


def test_the_allergy_list_has_its_own_pages_with_history(staff_client, patient, allergies):
    allergy = allergies.add(domain.Allergy(patient_id=patient.id, substance="penicillin"))
    changelist = reverse("admin:medications_allergy_changelist")
    assert staff_client.get(changelist, {"q": "okafor"}).context["cl"].result_count == 1
    for column in range(1, 7):
        assert staff_client.get(changelist, {"o": str(column)}).status_code == 200
    assert staff_client.get(reverse("admin:medications_allergy_history", args=[allergy.id])).status_code == 200


def test_opening_the_revise_and_discontinue_pages_is_recorded_in_the_access_log(lee_client, sertraline, patient, drlee):
    from novamind.models import AccessLogEntry

    lee_client.get(url("revise", sertraline.id))
    lee_client.get(url("discontinue", sertraline.id))
    entries = AccessLogEntry.objects.filter(category="medications", object_id=str(sertraline.id))
    assert sorted(entries.values_list("action", flat=True)) == ["view (discontinue form)", "view (revise form)"]
    assert {entry.patient_mrn for entry in entries} == {patient.mrn} and {entry.user for entry in entries} == {drlee}


def test_a_refusal_at_save_time_is_an_error_message_and_nothing_is_saved(lee_client, patient, monkeypatch):
    def refuse(self, order):
        raise domain.RuleViolation({"duplicate_override_reason": ["sertraline duplicates an order added a moment ago"]})

    monkeypatch.setattr(repository.DjangoMedicationOrderRepository, "add", refuse)
    response = lee_client.post(reverse(ADD), order_form(patient.id), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved" in page and "sertraline" not in page.split("messagelist")[1][:400]
    assert models.MedicationOrder.objects.count() == 0 and LogEntry.objects.count() == 0


def test_the_timeline_link_lists_every_order_of_the_patient(lee_client, orders, sertraline, patient):
    orders.revise(dataclasses.replace(sertraline, dose_amount=Decimal("100")))
    response = lee_client.get(url("changelist"), {"patient__id__exact": str(patient.id)})
    assert response.status_code == 200 and response.context["cl"].result_count == 2


def test_a_patient_form_posted_without_the_medication_sections_still_saves_and_changes_no_allergy(
    staff_client, patient, allergies
):
    allergy = allergies.add(domain.Allergy(patient_id=patient.id, substance="penicillin"))
    change = reverse("admin:patients_patient_change", args=[patient.id])
    data = form_data(staff_client.get(change))
    without = {key: value for key, value in data.items() if not key.startswith(("allergies-", "medication_orders-"))}
    without["pronouns"] = "they/them"
    assert staff_client.post(change, without).status_code == 302
    from patients import models as patients_models

    assert patients_models.Patient.objects.get().pronouns == "they/them"
    assert models.Allergy.objects.get().version == allergy.audit.version


def test_a_tampered_allergy_section_is_still_refused(staff_client, patient):
    change = reverse("admin:patients_patient_change", args=[patient.id])
    data = form_data(staff_client.get(change))
    data.pop("allergies-INITIAL_FORMS")
    data["allergies-0-substance"] = "penicillin"
    response = staff_client.post(change, data)
    assert response.status_code == 200 and models.Allergy.objects.count() == 0
