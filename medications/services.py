"""Medication services: the only write door for orders and allergies that the admin and commands call.

Each service takes the actor and asks the access policy (`patients.policy`) first: the role's
permission, then care — a write for a patient outside the actor's care is refused, and writing
never creates care (a prescription or a revision does not put its prescriber on the care team).
The order's own rules and the record checks (allergies, duplicate therapy, large dose changes,
`repository.check_prescribing`) and the prescriber's qualifications are the repository's and the
domain's; the repository writes through the audited path, atomically, in the actor's name.
"""

from __future__ import annotations

import datetime as dt

from medications import domain, models, repository
from novamind import audit
from novamind.domain import NotFound, parse_id
from patients import policy

PRESCRIBE = "medications.add_medicationorder"
CHANGE_ORDER = "medications.change_medicationorder"
ADD_ALLERGY = "medications.add_allergy"
CHANGE_ALLERGY = "medications.change_allergy"


def _orders(actor) -> repository.DjangoMedicationOrderRepository:
    return repository.DjangoMedicationOrderRepository(actor=audit.require_actor(actor))


def _allergies(actor) -> repository.DjangoAllergyRepository:
    return repository.DjangoAllergyRepository(actor=audit.require_actor(actor))


def _order_patient(order_id, actor, *permissions: str):
    """Ask the policy about the stored order `order_id`; return its patient's id."""
    patient_id = (
        models.MedicationOrder.objects.filter(pk=parse_id(order_id)).values_list("patient_id", flat=True).first()
    )
    if patient_id is None:
        raise NotFound(f"No medication order with id {order_id}.")
    for permission in permissions:
        policy.require(actor, permission, patient_id=patient_id)
    return patient_id


def order_prescribe(*, order: domain.MedicationOrder, actor) -> domain.MedicationOrder:
    """Prescribe `order` in `actor`'s name, for a patient in their care; return it as stored."""
    policy.require(actor, PRESCRIBE, patient_id=order.patient_id)
    return _orders(actor).add(order)


def order_record_outside(*, order: domain.MedicationOrder, actor) -> domain.MedicationOrder:
    """Record an order prescribed elsewhere (`order.recorded_from` says where), with its source's status.

    For an import of another system's record: `actor` needs the permission to add orders and care
    for the patient, but prescribes nothing, so the order has no NovaMind prescriber and the
    prescribing checks (rights, DEA number, allergies, duplicates, dose changes) do not run; the
    order's own rules do. `actor` is its creator in the history.
    """
    policy.require(actor, PRESCRIBE, patient_id=order.patient_id)
    return _orders(actor).add_outside(order)


def order_revise(*, order: domain.MedicationOrder, effective: dt.date | None = None, actor) -> domain.MedicationOrder:
    """Discontinue the stored order as changed and prescribe `order`'s details; return the new order.

    `order` is the stored order with new details, at the version it was read at. The reviser
    becomes the new order's prescriber, not a member of the patient's care team.
    """
    _order_patient(order.id, actor, CHANGE_ORDER, PRESCRIBE)
    return _orders(actor).revise(order, effective=effective)


def order_discontinue(
    *,
    order_id,
    reason: domain.DiscontinueReason | None,
    on: dt.date | None = None,
    note: str = "",
    version: int | None = None,
    actor,
) -> domain.MedicationOrder:
    """Stop the order on `on` (default today) for `reason`."""
    _order_patient(order_id, actor, CHANGE_ORDER)
    return _orders(actor).discontinue(order_id, reason=reason, on=on, note=note, version=version)


def order_hold(*, order_id, version: int | None = None, actor) -> domain.MedicationOrder:
    """Put the active order on hold."""
    _order_patient(order_id, actor, CHANGE_ORDER)
    return _orders(actor).hold(order_id, version=version)


def order_resume(*, order_id, version: int | None = None, actor) -> domain.MedicationOrder:
    """Make the held order active again."""
    _order_patient(order_id, actor, CHANGE_ORDER)
    return _orders(actor).resume(order_id, version=version)


def order_complete(*, order_id, version: int | None = None, actor) -> domain.MedicationOrder:
    """Record that the order's course ran to its end date."""
    _order_patient(order_id, actor, CHANGE_ORDER)
    return _orders(actor).complete(order_id, version=version)


def allergy_add(*, allergy: domain.Allergy, actor) -> domain.Allergy:
    """Record `allergy` on the record of a patient in `actor`'s care; return it as stored."""
    policy.require(actor, ADD_ALLERGY, patient_id=allergy.patient_id)
    return _allergies(actor).add(allergy)


def allergy_update(*, allergy: domain.Allergy, actor) -> domain.Allergy:
    """Store the changed details (or status) of `allergy`, read at the version it carries."""
    _allergy_patient(allergy.id, actor)
    return _allergies(actor).update(allergy)


def allergy_retire(*, allergy_id, actor) -> domain.Allergy:
    """Retire the allergy as entered in error: entries are kept, never deleted."""
    _allergy_patient(allergy_id, actor)
    return _allergies(actor).delete(allergy_id)


def _allergy_patient(allergy_id, actor):
    patient_id = models.Allergy.objects.filter(pk=parse_id(allergy_id)).values_list("patient_id", flat=True).first()
    if patient_id is None:
        raise NotFound(f"No allergy with id {allergy_id}.")
    policy.require(actor, CHANGE_ALLERGY, patient_id=patient_id)
    return patient_id
