"""Every medication path asks the one policy: role and care, for reading and for writing (issue 14)."""

import dataclasses
import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from conftest import assign_care
from medications import domain, models, services
from medications.tests.builders import an_order
from medications.tests.pages import errors_of, order_form
from novamind import roles
from novamind.domain import AccessDenied, RuleViolation
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

PRESCRIBER_PROFILE = {"credentials": "MD", "is_clinician": True, "is_prescriber": True, "dea_number": "BL1234563"}


def url(name, *args):
    return reverse(f"admin:medications_medicationorder_{name}", args=args)


@pytest.fixture
def stranger(staff):
    """A second patient, in nobody's care."""
    return patients_repository.DjangoPatientRepository(actor=staff).add(
        patients_domain.Patient(legal_first_name="Sam", legal_last_name="Elsewhere", date_of_birth=dt.date(1980, 1, 2))
    )


@pytest.fixture
def carer(patient):
    """A prescriber (role and profile) on the care team of `patient` only."""
    user = member("drcare", roles.PRESCRIBER, profile=PRESCRIBER_PROFILE)
    assign_care(patient, user)
    return user


@pytest.fixture
def outsider(patient):
    """A prescriber (role and profile) who treats nobody."""
    return member("drout", roles.PRESCRIBER, profile=PRESCRIBER_PROFILE)


@pytest.fixture
def current(patient, carer):
    """A current sertraline order of `patient`, written by the prescriber in care."""
    start = timezone.localdate() - dt.timedelta(days=10)
    return services.order_prescribe(
        order=an_order(patient_id=patient.id, prescriber=None, start_date=start), actor=carer
    )


def revision_form(**changes) -> dict:
    """Return the POST data of a revision of `current` to 100 mg, taking effect today, with `changes`."""
    return {
        "dose_amount": "100",
        "strength": "50 mg",
        "dose_form": "tablet",
        "dose_unit": "mg",
        "route": "oral",
        "frequency_kind": "once_daily",
        "quantity": "30",
        "refills": "2",
        "start_date": timezone.localdate().isoformat(),
        "version": "1",
        **changes,
    }


def allergy_form(patient_id) -> dict:
    """Return the add-page POST data of a penicillin allergy of the patient."""
    return {
        "patient": str(patient_id),
        "substance": "penicillin",
        "reaction": "",
        "severity": "unknown",
        "status": "active",
        "version": "1",
    }


def _revision(order):
    return dataclasses.replace(order, dose_amount=Decimal("100"))


# --- Writing creates no care: a write for a patient outside care is refused -------------------


def test_prescribing_for_a_patient_outside_care_is_refused_by_the_service(carer, stranger):
    with pytest.raises(AccessDenied):
        services.order_prescribe(order=an_order(patient_id=stranger.id, prescriber=None), actor=carer)
    assert not models.MedicationOrder.objects.exists()


def test_prescribing_without_the_prescribing_role_is_refused_by_the_service(patient):
    clinician = member("drtalk", roles.CLINICIAN, profile=PRESCRIBER_PROFILE)
    assign_care(patient, clinician)
    with pytest.raises(AccessDenied):
        services.order_prescribe(order=an_order(patient_id=patient.id, prescriber=None), actor=clinician)
    assert not models.MedicationOrder.objects.exists()


def test_the_prescribe_form_offers_only_the_patients_in_the_prescribers_care(client, carer, patient, stranger):
    client.force_login(carer)
    response = client.get(reverse("admin:medications_medicationorder_add"))
    offered = response.context["adminform"].form.fields["patient"].queryset
    assert list(offered.values_list("pk", flat=True)) == [patient.id]


def test_a_prescribe_post_naming_a_patient_outside_care_is_an_error_at_the_patient_field(client, carer, stranger):
    client.force_login(carer)
    response = client.post(reverse("admin:medications_medicationorder_add"), order_form(stranger.id))
    assert response.status_code == 200
    assert "patient" in errors_of(response)
    assert not models.MedicationOrder.objects.exists()


@pytest.mark.parametrize(
    ("value", "status"), [("abc", 400), ("\x00", 400), ("00000000-0000-4000-8000-000000000009", 200)]
)
def test_the_add_pages_with_a_garbage_or_unknown_patient_id_are_not_a_server_error(client, carer, value, status):
    client.force_login(carer)
    for name in ("medicationorder", "allergy"):
        response = client.get(reverse(f"admin:medications_{name}_add"), {"patient": value})
        assert response.status_code == status


def test_revising_an_order_outside_care_is_refused_by_the_service(current, outsider):
    with pytest.raises(AccessDenied):
        services.order_revise(order=_revision(current), actor=outsider)
    assert models.MedicationOrder.objects.count() == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda order, actor: services.order_discontinue(
            order_id=order.id, reason=domain.DiscontinueReason.INEFFECTIVE, actor=actor
        ),
        lambda order, actor: services.order_hold(order_id=order.id, actor=actor),
        lambda order, actor: services.order_complete(order_id=order.id, actor=actor),
    ],
)
def test_changing_an_order_outside_care_is_refused_by_the_service(current, outsider, call):
    with pytest.raises(AccessDenied):
        call(current, outsider)
    assert models.MedicationOrder.objects.get().status == domain.OrderStatus.ACTIVE.value


def test_the_prescriber_in_care_may_revise_and_the_new_order_stays_in_care_only_by_assignment(current, carer):
    revised = services.order_revise(order=_revision(current), actor=carer)
    assert revised.replaces_id == current.id and revised.prescriber.user_id == carer.pk


# --- Workflow URLs: 404 outside care, for reading and writing ----------------------------------


@pytest.mark.parametrize("name", ["revise", "discontinue"])
def test_the_workflow_pages_of_an_order_outside_care_are_404(client, current, outsider, name):
    client.force_login(outsider)
    assert client.get(url(name, current.id)).status_code == 404
    response = client.post(
        url(name, current.id),
        {**revision_form(), "discontinue_reason": "ineffective", "discontinued_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 404
    assert models.MedicationOrder.objects.get().status == domain.OrderStatus.ACTIVE.value


def test_the_transition_button_on_an_order_outside_care_is_404(client, current, outsider):
    client.force_login(outsider)
    response = client.post(url("transition", current.id), {"action": "hold", "version": "1"})
    assert response.status_code == 404
    assert models.MedicationOrder.objects.get().status == domain.OrderStatus.ACTIVE.value


def test_the_workflow_pages_still_open_for_the_prescriber_in_care(client, current, carer):
    client.force_login(carer)
    assert client.get(url("revise", current.id)).status_code == 200
    response = client.post(url("transition", current.id), {"action": "hold", "version": "1"})
    assert response.status_code == 302
    assert models.MedicationOrder.objects.get().status == domain.OrderStatus.ON_HOLD.value


# --- Allergies ----------------------------------------------------------------------------------


def test_recording_an_allergy_for_a_patient_outside_care_is_refused_by_the_service(carer, stranger):
    with pytest.raises(AccessDenied):
        services.allergy_add(allergy=domain.Allergy(patient_id=stranger.id, substance="penicillin"), actor=carer)
    assert not models.Allergy.objects.exists()


def test_an_allergy_post_naming_a_patient_outside_care_is_an_error_at_the_patient_field(client, carer, stranger):
    client.force_login(carer)
    response = client.post(
        reverse("admin:medications_allergy_add"),
        allergy_form(stranger.id),
    )
    assert response.status_code == 200
    assert "patient" in response.context["adminform"].form.errors
    assert not models.Allergy.objects.exists()


def test_the_front_desk_cannot_record_an_allergy_through_the_service(patient):
    desk = member("desk", roles.FRONT_DESK)
    with pytest.raises(AccessDenied):
        services.allergy_add(allergy=domain.Allergy(patient_id=patient.id, substance="penicillin"), actor=desk)


def test_an_allergy_is_recorded_changed_and_retired_through_the_services(carer, patient):
    added = services.allergy_add(allergy=domain.Allergy(patient_id=patient.id, substance="penicillin"), actor=carer)
    changed = services.allergy_update(allergy=dataclasses.replace(added, reaction="hives"), actor=carer)
    retired = services.allergy_retire(allergy_id=added.id, actor=carer)
    assert changed.reaction == "hives" and retired.status is domain.AllergyStatus.ENTERED_IN_ERROR
    assert [row.history_user for row in models.Allergy.history.order_by("history_date")] == [carer] * 3


# --- The command asks the same questions as the admin -------------------------------------------


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("medication_list", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_medication_list_refuses_an_actor_without_a_clinical_role(current, patient):
    member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError, match="medication"):
        run("--patient", patient.mrn, "--actor", "office")


def test_medication_list_refuses_a_prescriber_outside_the_patients_care(current, patient, outsider):
    with pytest.raises(CommandError, match="care"):
        run("--patient", patient.mrn, "--actor", outsider.username)


def test_medication_list_prints_for_the_prescriber_in_care(current, patient, carer):
    assert "sertraline" in run("--patient", patient.mrn, "--actor", carer.username)


def test_medication_list_shows_the_front_desk_the_current_list_but_no_allergies(current, patient, carer):
    services.allergy_add(allergy=domain.Allergy(patient_id=patient.id, substance="penicillin"), actor=carer)
    member("desk", roles.FRONT_DESK)
    printed = run("--patient", patient.mrn, "--actor", "desk")
    assert "sertraline" in printed and "penicillin" not in printed


# --- Date bounds --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"start_date": "1899-12-31"}, "start_date"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"end_date": "9999-12-31"}, "end_date"),
    ],
)
def test_order_dates_outside_their_bounds_are_errors_next_to_the_field(client, carer, patient, changes, field):
    client.force_login(carer)
    response = client.post(reverse("admin:medications_medicationorder_add"), order_form(patient.id, **changes))
    assert response.status_code == 200
    assert "Enter a date" in " ".join(errors_of(response)[field])
    assert not models.MedicationOrder.objects.exists()


def test_the_service_refuses_an_end_date_beyond_five_years(carer, patient):
    with pytest.raises(RuleViolation) as refused:
        services.order_prescribe(
            order=an_order(patient_id=patient.id, prescriber=None, end_date=timezone.localdate().replace(year=2099)),
            actor=carer,
        )
    assert "end_date" in refused.value.errors


def test_a_revision_with_an_end_date_beyond_five_years_is_an_error_next_to_the_field(client, current, carer):
    client.force_login(carer)
    response = client.post(
        url("revise", current.id),
        revision_form(end_date="9999-12-31"),
    )
    assert response.status_code == 200
    assert "Enter a date" in " ".join(response.context["form"].errors["end_date"])
    assert models.MedicationOrder.objects.count() == 1


def test_an_action_posted_with_a_garbage_id_answers_400_and_changes_nothing(client, current, carer):
    client.force_login(carer)
    response = client.post(
        url("changelist"), {"action": "hold_orders", "_selected_action": ["abc", str(current.id)], "index": "0"}
    )
    assert response.status_code == 400
    assert models.MedicationOrder.objects.get().status == domain.OrderStatus.ACTIVE.value


def test_care_ended_between_the_allergy_form_and_its_save_is_an_error_message_and_nothing_is_saved(
    client, carer, patient, monkeypatch
):
    def refuse(*, allergy, actor):
        raise AccessDenied("drcare is not on this patient's care team.")

    monkeypatch.setattr(services, "allergy_add", refuse)
    client.force_login(carer)
    response = client.post(
        reverse("admin:medications_allergy_add"),
        allergy_form(patient.id),
        follow=True,
    )
    assert response.status_code == 200 and "Nothing was saved" in response.content.decode()
    assert not models.Allergy.objects.exists()


def test_an_allergy_added_on_its_own_page_goes_through_the_service_in_the_users_name(client, carer, patient):
    client.force_login(carer)
    response = client.post(reverse("admin:medications_allergy_add"), allergy_form(patient.id))
    assert response.status_code == 302
    allergy = models.Allergy.objects.get()
    assert allergy.created_by == carer and allergy.history.get().history_change_reason == "Allergy recorded"
    change = reverse("admin:medications_allergy_change", args=[allergy.pk])
    form = client.get(change).context["adminform"].form
    assert "patient" not in form.fields  # an allergy stays on its patient's record
    response = client.post(change, {**allergy_form(patient.id), "reaction": "hives", "version": str(allergy.version)})
    assert response.status_code == 302
    assert models.Allergy.objects.get().reaction == "hives"


def test_medication_list_tells_a_restricted_actor_nothing_about_whether_an_mrn_outside_care_exists(
    current, patient, outsider
):
    with pytest.raises(CommandError) as outside:
        run("--patient", patient.mrn, "--actor", outsider.username)
    unknown = "NM00000018" if patient.mrn != "NM00000018" else "NM00000026"
    with pytest.raises(CommandError) as missing:
        run("--patient", unknown, "--actor", outsider.username)
    assert str(outside.value).replace(patient.mrn, "MRN") == str(missing.value).replace(unknown, "MRN")
