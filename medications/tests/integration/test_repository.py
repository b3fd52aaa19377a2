"""The medication repositories on the real database: domain objects out, attributed writes in."""

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from medications import domain, models, repository
from medications.tests.builders import an_order
from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def new_order(patient, **changes):
    return an_order(
        **{"patient_id": patient.id, "prescriber": None, "start_date": today() - dt.timedelta(days=20), **changes}
    )


def assert_nothing_written():
    assert models.MedicationOrder.objects.count() == 0
    assert models.MedicationOrder.history.count() == 0


def test_add_prescribes_in_the_actors_name_with_an_attributed_history_row(orders, patient, drlee):
    added = orders.add(new_order(patient, instructions="Take in the morning."))
    assert isinstance(added, domain.MedicationOrder)
    assert added.status is domain.OrderStatus.ACTIVE and added.written_on == today()
    assert added.prescriber.username == "drlee" and added.prescriber.display_name == "Drlee Prescriber, MD"
    assert added.audit.created_by == "drlee" and added.audit.version == 1
    assert orders.get_by_id(added.id) == added
    record = models.MedicationOrder.history.get()
    assert record.history_user == drlee and record.history_change_reason == "Prescribed"


def test_a_non_prescriber_cannot_prescribe_and_nothing_is_written(staff, patient):
    with pytest.raises(RuleViolation) as caught:
        repository.DjangoMedicationOrderRepository(actor=staff).add(new_order(patient))
    assert "Only prescribers prescribe" in caught.value.errors["prescriber"][0]
    assert_nothing_written()


def test_nobody_prescribes_in_someone_elses_name(orders, patient, drnodea):
    other = domain.Prescriber(user_id=drnodea.pk, username="drnodea")
    with pytest.raises(RuleViolation, match="cannot prescribe in drnodea's name"):
        orders.add(new_order(patient, prescriber=other))
    assert_nothing_written()


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"dose_amount": Decimal("-10")}, "dose_amount"),
        ({"quantity": Decimal("0")}, "quantity"),
        ({"end_date": dt.date(2000, 1, 1)}, "end_date"),
        ({"drug_name": "methylphenidate", "schedule": domain.Schedule.II, "refills": 2}, "refills"),
        ({"refills": 12}, "refills"),
    ],
)
def test_bad_orders_are_refused_with_the_field_at_fault_and_nothing_is_written(orders, patient, changes, field):
    with pytest.raises(RuleViolation) as caught:
        orders.add(new_order(patient, **changes))
    assert field in caught.value.errors
    assert_nothing_written()


def test_a_controlled_substance_needs_a_dea_number_on_the_prescribers_profile(drnodea, patient):
    lorazepam = new_order(patient, drug_name="lorazepam", schedule=domain.Schedule.IV, refills=0)
    with pytest.raises(RuleViolation, match="DEA number"):
        repository.DjangoMedicationOrderRepository(actor=drnodea).add(lorazepam)
    assert_nothing_written()


def test_an_unknown_patient_is_refused(orders):
    with pytest.raises(RuleViolation, match="No patient"):
        orders.add(an_order(patient_id=uuid.uuid4(), prescriber=None))
    with pytest.raises(RuleViolation, match="required"):
        orders.add(an_order(patient_id=None, prescriber=None))


def test_no_new_orders_for_a_deceased_patient(orders, patient, staff):
    patients_repository.DjangoPatientRepository(actor=staff).set_status(
        patient.id, patients_domain.PatientStatus.DECEASED
    )
    with pytest.raises(RuleViolation, match="deceased"):
        orders.add(new_order(patient))
    assert_nothing_written()


def test_an_allergy_match_is_refused_without_a_reason_and_the_override_is_recorded(orders, allergies, patient, drlee):
    allergies.add(
        domain.Allergy(
            patient_id=patient.id,
            substance="SSRIs",
            reaction="serotonin syndrome",
            severity=domain.AllergySeverity.SEVERE,
        )
    )
    with pytest.raises(RuleViolation) as caught:
        orders.add(new_order(patient))
    assert set(caught.value.errors) == {"allergy_override_reason"}
    assert "serotonin syndrome" in caught.value.errors["allergy_override_reason"][0]
    assert_nothing_written()

    added = orders.add(new_order(patient, allergy_override_reason="Tolerated sertraline for a year in 2019."))
    assert orders.get_by_id(added.id).allergy_override_reason == "Tolerated sertraline for a year in 2019."
    assert models.MedicationOrder.history.get().history_change_reason == "Prescribed (allergy override)"


def test_a_retired_allergy_no_longer_blocks_the_drug(orders, allergies, patient):
    allergy = allergies.add(domain.Allergy(patient_id=patient.id, substance="sertraline"))
    allergies.delete(allergy.id)
    assert orders.add(new_order(patient)).allergy_override_reason == ""


def test_a_duplicate_ssri_needs_an_override_reason_which_is_recorded(orders, patient):
    orders.add(new_order(patient))
    fluoxetine = new_order(patient, drug_name="fluoxetine", strength="20 mg", dose_amount=Decimal("20"))
    with pytest.raises(RuleViolation) as caught:
        orders.add(fluoxetine)
    assert "two SSRIs at once" in caught.value.errors["duplicate_override_reason"][0]
    assert models.MedicationOrder.objects.count() == 1
    added = orders.add(dataclasses.replace(fluoxetine, duplicate_override_reason="Cross-taper over two weeks."))
    assert added.duplicate_override_reason == "Cross-taper over two weeks."
    assert (
        models.MedicationOrder.history.latest("history_id").history_change_reason == "Prescribed (duplicate override)"
    )


def test_field_faults_and_record_conflicts_are_reported_together(orders, allergies, patient):
    allergies.add(domain.Allergy(patient_id=patient.id, substance="Zoloft"))
    with pytest.raises(RuleViolation) as caught:
        orders.add(new_order(patient, dose_amount=Decimal("-1")))
    assert set(caught.value.errors) == {"dose_amount", "allergy_override_reason"}


def test_revise_discontinues_as_changed_and_links_a_new_order_into_a_timeline(orders, patient, drlee):
    first = orders.add(new_order(patient))
    effective = today() - dt.timedelta(days=5)
    second = orders.revise(dataclasses.replace(first, dose_amount=Decimal("100")), effective=effective)
    old = orders.get_by_id(first.id)
    assert old.status is domain.OrderStatus.DISCONTINUED and old.discontinue_reason is domain.DiscontinueReason.CHANGED
    assert old.discontinued_on == effective and old.dose_amount == Decimal("50") and old.replaced_by_id == second.id
    assert second.replaces_id == first.id and second.start_date == effective and second.dose_amount == Decimal("100")
    third = orders.revise(
        dataclasses.replace(
            second, frequency=domain.Frequency(kind=domain.FrequencyKind.TWICE_DAILY), dose_amount=Decimal("50")
        )
    )
    history = orders.history_for_patient(patient.id)
    assert [order.id for order in history] == [first.id, second.id, third.id]
    assert domain.revision_chains(history) == [history]
    assert [order.id for order in orders.active_for_patient(patient.id)] == [third.id]
    reasons = list(
        models.MedicationOrder.history.order_by("history_id").values_list("history_change_reason", flat=True)
    )
    assert reasons == [
        "Prescribed",
        "Discontinued: changed (revised)",
        f"Revised: replaces order {str(first.id)[:8]}",
        "Discontinued: changed (revised)",
        f"Revised: replaces order {str(second.id)[:8]}",
    ]
    assert set(models.MedicationOrder.history.values_list("history_user", flat=True)) == {drlee.pk}


def test_a_revision_is_not_a_duplicate_of_what_it_replaces_but_is_checked_for_allergies(orders, allergies, patient):
    first = orders.add(new_order(patient))
    allergies.add(domain.Allergy(patient_id=patient.id, substance="sertraline"))
    with pytest.raises(RuleViolation) as caught:
        orders.revise(dataclasses.replace(first, dose_amount=Decimal("100")))
    assert set(caught.value.errors) == {"allergy_override_reason"}
    assert (
        orders.get_by_id(first.id).status is domain.OrderStatus.ACTIVE and models.MedicationOrder.objects.count() == 1
    )


def test_an_order_revised_once_cannot_be_revised_again_from_its_old_copy(orders, patient):
    first = orders.add(new_order(patient))
    orders.revise(dataclasses.replace(first, dose_amount=Decimal("100")))
    with pytest.raises(ConcurrencyError):
        orders.revise(dataclasses.replace(first, dose_amount=Decimal("150")))
    reread = orders.get_by_id(first.id)
    with pytest.raises(RuleViolation, match="discontinued; it cannot be revised"):
        orders.revise(dataclasses.replace(reread, dose_amount=Decimal("150")))
    assert models.MedicationOrder.objects.count() == 2


def test_bad_revisions_write_nothing(orders, patient, staff):
    first = orders.add(new_order(patient))
    with pytest.raises(RuleViolation) as caught:
        orders.revise(dataclasses.replace(first, dose_amount=Decimal("-100")))
    assert set(caught.value.errors) == {"dose_amount"}
    with pytest.raises(RuleViolation, match="Only prescribers"):
        repository.DjangoMedicationOrderRepository(actor=staff).revise(
            dataclasses.replace(first, dose_amount=Decimal("100"))
        )
    with pytest.raises(RuleViolation, match="to switch drugs"):
        orders.revise(dataclasses.replace(first, drug_name="fluoxetine"))
    assert orders.get_by_id(first.id) == first and models.MedicationOrder.history.count() == 1


def test_update_never_edits_in_place_a_new_dose_makes_a_revision(orders, patient):
    first = orders.add(new_order(patient))
    revised = orders.update(dataclasses.replace(first, dose_amount=Decimal("75")))
    assert revised.id != first.id and revised.replaces_id == first.id
    assert orders.get_by_id(first.id).dose_amount == Decimal("50")


def test_update_applies_a_status_change_through_its_transition(orders, patient):
    first = orders.add(new_order(patient))
    held = orders.update(dataclasses.replace(first, status=domain.OrderStatus.ON_HOLD))
    assert held.id == first.id and held.status is domain.OrderStatus.ON_HOLD
    with pytest.raises(RuleViolation, match="not both at once"):
        orders.update(dataclasses.replace(held, status=domain.OrderStatus.ACTIVE, dose_amount=Decimal("100")))
    with pytest.raises(ConcurrencyError):
        orders.update(dataclasses.replace(first, status=domain.OrderStatus.ON_HOLD))


def test_discontinue_records_reason_date_and_note_and_closes_the_order(orders, patient, drlee):
    first = orders.add(new_order(patient))
    stopped = orders.discontinue(first.id, reason=domain.DiscontinueReason.ADVERSE_EFFECT, note="Nausea.", version=1)
    assert stopped.status is domain.OrderStatus.DISCONTINUED and stopped.discontinued_on == today()
    assert stopped.discontinue_note == "Nausea." and stopped.audit.version == 2
    assert orders.active_for_patient(patient.id) == []
    with pytest.raises(RuleViolation, match="already|cannot be discontinued"):
        orders.discontinue(first.id, reason=domain.DiscontinueReason.INEFFECTIVE)


def test_discontinue_refuses_a_stale_version_a_missing_reason_and_the_changed_reason(orders, patient):
    first = orders.add(new_order(patient))
    with pytest.raises(ConcurrencyError):
        orders.discontinue(first.id, reason=domain.DiscontinueReason.INEFFECTIVE, version=7)
    with pytest.raises(RuleViolation) as caught:
        orders.discontinue(first.id, reason=None)
    assert set(caught.value.errors) == {"discontinue_reason"}
    with pytest.raises(RuleViolation, match="revising"):
        orders.discontinue(first.id, reason=domain.DiscontinueReason.CHANGED)
    assert orders.get_by_id(first.id).status is domain.OrderStatus.ACTIVE


def test_delete_keeps_the_order_and_discontinues_it_as_entered_in_error(orders, patient):
    first = orders.add(new_order(patient))
    deleted = orders.delete(first.id)
    assert deleted.discontinue_reason is domain.DiscontinueReason.ENTERED_IN_ERROR
    assert models.MedicationOrder.objects.filter(pk=first.id).exists()
    with pytest.raises(NotFound):
        orders.delete("00000000-0000-0000-0000-000000000000")


def test_hold_resume_and_complete(orders, patient):
    course = orders.add(new_order(patient, end_date=today()))
    assert orders.hold(course.id).status is domain.OrderStatus.ON_HOLD
    assert [order.status for order in orders.active_for_patient(patient.id)] == [domain.OrderStatus.ON_HOLD]
    assert orders.resume(course.id).status is domain.OrderStatus.ACTIVE
    assert orders.complete(course.id).status is domain.OrderStatus.COMPLETED
    ongoing = orders.add(new_order(patient, drug_name="lithium"))
    with pytest.raises(RuleViolation, match="no end date"):
        orders.complete(ongoing.id)


def test_the_active_list_is_sorted_by_drug_name_in_python(orders, patient):
    orders.add(new_order(patient, drug_name="quetiapine"))
    orders.add(new_order(patient, drug_name="Lithium"))
    assert [order.drug_name for order in orders.active_for_patient(patient.id)] == [
        "Lithium",
        "quetiapine",
    ]
    assert orders.active_for_patient("not-a-uuid") == [] and orders.get_by_id("nope") is None


def test_a_prescriber_who_loses_the_role_does_not_invalidate_past_orders(orders, patient, drlee, drnodea):
    first = orders.add(new_order(patient))
    profile = drlee.staff_profile
    profile.is_prescriber = False
    from novamind import audit

    audit.audited_save(profile, actor=drnodea)
    stopped = repository.DjangoMedicationOrderRepository(actor=drnodea).discontinue(
        first.id, reason=domain.DiscontinueReason.INEFFECTIVE
    )
    assert stopped.status is domain.OrderStatus.DISCONTINUED and stopped.prescriber.username == "drlee"


def test_allergies_are_recorded_changed_and_retired_never_deleted(allergies, patient, staff, other_staff):
    added = allergies.add(domain.Allergy(patient_id=patient.id, substance=" penicillin ", reaction="hives"))
    assert added.substance == "penicillin" and added.audit.created_by == "alice"
    changed = repository.DjangoAllergyRepository(actor=other_staff).update(
        dataclasses.replace(added, severity=domain.AllergySeverity.SEVERE)
    )
    assert changed.severity is domain.AllergySeverity.SEVERE and changed.audit.updated_by == "bob"
    with pytest.raises(ConcurrencyError):
        allergies.update(dataclasses.replace(added, reaction="rash"))
    retired = allergies.delete(added.id)
    assert retired.status is domain.AllergyStatus.ENTERED_IN_ERROR
    assert allergies.for_patient(patient.id) == [] and allergies.for_patient(patient.id, include_inactive=True) == [
        retired
    ]
    assert models.Allergy.history.count() == 3


def test_an_allergy_needs_a_substance_and_a_patient(allergies, patient):
    with pytest.raises(RuleViolation) as caught:
        allergies.add(domain.Allergy(patient_id=patient.id, substance=""))
    assert set(caught.value.errors) == {"substance"}
    with pytest.raises(RuleViolation, match="required"):
        allergies.add(domain.Allergy(patient_id=None, substance="penicillin"))
    assert models.Allergy.objects.count() == 0
