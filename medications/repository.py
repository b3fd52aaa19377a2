"""The Django implementations of the medication repositories: domain objects out, attributed writes in.

Every write that depends on the patient's record (prescribing, revising, recording an allergy)
first locks the patient's row, so two prescribers cannot both add an SSRI, and an allergy
recorded at the same moment is either seen by the check or recorded after it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from medications import domain, models
from novamind import audit
from novamind.domain import ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import domain as patients_domain
from patients import repository as patients_repository

ORDER_RELATIONS = ("prescriber__staff_profile", "replaced_by", "created_by", "updated_by")


def check_prescribing(order: domain.MedicationOrder) -> domain.MedicationOrder:
    """Check a new order against the patient's record; return it with the overrides it needs.

    The one rule for allergies, duplicate therapy and large dose changes (NOVAMIND_DOSE_CHANGE_FACTOR),
    used by the repository and the admin forms. Locks the patient's row (inside the caller's
    transaction) so the check and the write that follows see the same record.
    """
    with transaction.atomic():
        patient = patients_repository.lock_patient(order.patient_id)
        if patient.status == patients_domain.PatientStatus.DECEASED.value:
            raise RuleViolation({"patient": ["This patient is recorded as deceased: no new orders can be written."]})
        allergies = [
            row.to_domain()
            for row in models.Allergy.objects.filter(patient_id=patient.pk, status=domain.AllergyStatus.ACTIVE.value)
        ]
        # Every order of the patient, stopped ones too: a new order's dose is compared with the
        # last one of the same drug. A patient has few orders, and the drug is encrypted.
        orders = [
            row.to_domain()
            for row in models.MedicationOrder.objects.select_related(*ORDER_RELATIONS).filter(patient_id=patient.pk)
        ]
        return domain.check_against_record(
            order, allergies=allergies, orders=orders, dose_change_factor=settings.NOVAMIND_DOSE_CHANGE_FACTOR
        )


def _collect(errors: dict[str, list[str]], check):
    """Return what `check()` returns, or add its RuleViolation to `errors` and return None."""
    try:
        return check()
    except RuleViolation as violation:
        for field, messages in violation.errors.items():
            errors.setdefault(field, []).extend(messages)
        return None


def _override_note(order: domain.MedicationOrder) -> str:
    overrides = [
        name
        for name, reason in (("allergy", order.allergy_override_reason), ("duplicate", order.duplicate_override_reason))
        if reason
    ]
    notes = [f"{' and '.join(overrides)} override"] if overrides else []
    if order.dose_change_confirmed:
        notes.append("large dose change confirmed")
    return f" ({'; '.join(notes)})" if notes else ""


class DjangoMedicationOrderRepository:
    """Medication orders in the database, written on behalf of one named user (`actor`).

    Orders are written and changed by prescribers only, in their own name. Orders are retained:
    `delete` discontinues an order as entered in error.
    """

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    # --- reads ------------------------------------------------------------------------------

    def get_by_id(self, order_id) -> domain.MedicationOrder | None:
        """Return the order with this id, or None."""
        row = self._row(order_id)
        return row.to_domain() if row else None

    def active_for_patient(self, patient_id) -> list[domain.MedicationOrder]:
        """Return the patient's current medication list (active and on hold), by drug name."""
        rows = self._rows(patient_id).filter(status__in=[s.value for s in domain.CURRENT_STATUSES])
        # The drug name is encrypted, so the database cannot sort by it; a patient has few orders.
        return sorted(
            (row.to_domain() for row in rows), key=lambda order: (order.drug_name.casefold(), order.start_date)
        )

    def history_for_patient(self, patient_id) -> list[domain.MedicationOrder]:
        """Return every order the patient has had, oldest first: revisions follow what they replaced."""
        rows = self._rows(patient_id).order_by("start_date", "created_at")
        return [row.to_domain() for row in rows]

    # --- writes -----------------------------------------------------------------------------

    def add(self, order: domain.MedicationOrder) -> domain.MedicationOrder:
        """Prescribe `order` in the actor's name and return it as stored."""
        prescriber = models.prescriber_of(self.actor)
        if order.prescriber is not None and order.prescriber.user_id not in (None, self.actor.pk):
            raise RuleViolation(
                {
                    "prescriber": [
                        f"An order is written by its prescriber: {self.actor.get_username()} cannot prescribe in {order.prescriber.username}'s name."
                    ]
                }
            )
        if order.id is not None or order.status is not domain.OrderStatus.ACTIVE or order.replaces_id is not None:
            raise RuleViolation(
                "A new order starts active and replaces nothing; change an existing order with revise or discontinue."
            )
        today = timezone.localdate()
        order = dataclasses.replace(order, prescriber=prescriber)
        with transaction.atomic():
            # Report the order's own faults and its conflicts with the record together.
            errors: dict[str, list[str]] = {}
            validated = _collect(errors, lambda: domain.check_new_order(order, today=today))
            checked = _collect(errors, lambda: check_prescribing(order))
            if errors:
                raise RuleViolation(errors)
            order = dataclasses.replace(
                validated,
                allergy_override_reason=checked.allergy_override_reason,
                duplicate_override_reason=checked.duplicate_override_reason,
                dose_change_confirmed=checked.dose_change_confirmed,
            )
            row = models.MedicationOrder(prescriber=self.actor)
            row.update_from_domain(order)
            audit.checked_save(row, actor=self.actor, reason="Prescribed" + _override_note(order))
        return self.get_by_id(row.pk)

    def add_outside(self, order: domain.MedicationOrder) -> domain.MedicationOrder:
        """Record `order`, prescribed elsewhere, as the actor (its creator); return it as stored.

        The patient's row is locked as for any write of their record; a deceased patient's
        history may still be recorded (nothing is prescribed).
        """
        if order.id is not None:
            raise RuleViolation("An order recorded from another system is a new order.")
        order = domain.check_outside_order(order, today=timezone.localdate())
        with transaction.atomic():
            patients_repository.lock_patient(order.patient_id)
            if order.replaces_id is not None:
                replaced = self._row(order.replaces_id)
                if replaced is None or replaced.patient_id != order.patient_id or not replaced.recorded_from:
                    raise RuleViolation(
                        "An order recorded from another system revises only an order of the same patient "
                        "recorded from another system."
                    )
            row = models.MedicationOrder(prescriber=None)
            row.update_from_domain(order)
            audit.checked_save(
                row, actor=self.actor, reason=f"Recorded from another system's record ({order.status.value})"
            )
        return self.get_by_id(row.pk)

    def update(self, order: domain.MedicationOrder) -> domain.MedicationOrder:
        """Apply a change to a current order without editing it in place.

        A new status goes through its transition (hold, resume, complete, discontinue); new
        details make a revision, and the new, linked order is returned.
        """
        stored = self._current_version(order)
        if order.status is not stored.status:
            if _content(order) != _content(stored):
                raise RuleViolation("Change the status or the details of an order, not both at once.")
            version = order.audit.version
            if order.status is domain.OrderStatus.ON_HOLD:
                return self.hold(order.id, version=version)
            if order.status is domain.OrderStatus.ACTIVE:
                return self.resume(order.id, version=version)
            if order.status is domain.OrderStatus.COMPLETED:
                return self.complete(order.id, version=version)
            return self.discontinue(
                order.id,
                reason=order.discontinue_reason,
                on=order.discontinued_on,
                note=order.discontinue_note,
                version=version,
            )
        if _content(order) == _content(stored):
            return stored
        return self.revise(order)

    def delete(self, order_id) -> domain.MedicationOrder:
        """Discontinue the order as entered in error: orders are retained, never deleted."""
        return self.discontinue(order_id, reason=domain.DiscontinueReason.ENTERED_IN_ERROR)

    def revise(self, order: domain.MedicationOrder, *, effective: dt.date | None = None) -> domain.MedicationOrder:
        """Discontinue the stored order as changed and prescribe `order`'s details as a new, linked order.

        `order` is the stored order with new details (it carries the version it was read at).
        The change takes effect on `effective` (default today). Returns the new order.
        """
        self._require_prescriber()
        today = timezone.localdate()
        with transaction.atomic():
            row = self._locked(order.id, order.audit.version if order.audit else None)
            closed, new = domain.revise(
                row.to_domain(),
                order,
                effective=effective or today,
                prescriber=models.prescriber_of(self.actor),
                today=today,
            )
            new = check_prescribing(new)
            row.update_from_domain(closed)
            audit.checked_save(row, actor=self.actor, reason="Discontinued: changed (revised)")
            new_row = models.MedicationOrder(prescriber=self.actor)
            new_row.update_from_domain(new)
            audit.checked_save(
                new_row, actor=self.actor, reason=f"Revised: replaces order {closed.short_id}" + _override_note(new)
            )
        return self.get_by_id(new_row.pk)

    def discontinue(
        self,
        order_id,
        *,
        reason: domain.DiscontinueReason | None,
        on: dt.date | None = None,
        note: str = "",
        version: int | None = None,
    ) -> domain.MedicationOrder:
        """Stop the order on `on` (default today) for `reason`, with an optional note."""
        if reason is domain.DiscontinueReason.CHANGED:
            raise RuleViolation(
                {"discontinue_reason": ["'Changed' is recorded by revising the order, which also writes the new one."]}
            )
        return self._transition(
            order_id,
            version,
            f"Discontinued ({reason.value if reason else 'no reason'})",
            lambda order, today: domain.discontinue(order, on=on or today, reason=reason, note=note, today=today),
        )

    def hold(self, order_id, *, version: int | None = None) -> domain.MedicationOrder:
        """Put the active order on hold."""
        return self._transition(order_id, version, "Put on hold", lambda order, today: domain.hold(order))

    def resume(self, order_id, *, version: int | None = None) -> domain.MedicationOrder:
        """Make the held order active again."""
        return self._transition(order_id, version, "Resumed", lambda order, today: domain.resume(order))

    def complete(self, order_id, *, version: int | None = None) -> domain.MedicationOrder:
        """Record that the order's course ran to its end date."""
        return self._transition(
            order_id, version, "Completed", lambda order, today: domain.complete(order, today=today)
        )

    # --- helpers ----------------------------------------------------------------------------

    def _transition(self, order_id, version, reason, change) -> domain.MedicationOrder:
        self._require_prescriber()
        with transaction.atomic():
            row = self._locked(order_id, version)
            changed = change(row.to_domain(), timezone.localdate())
            row.update_from_domain(changed)
            audit.checked_save(row, actor=self.actor, reason=reason)
        return self.get_by_id(row.pk)

    def _require_prescriber(self) -> None:
        if not models.prescriber_of(self.actor).is_prescriber:
            raise RuleViolation(
                f"Only prescribers change medication orders: the staff profile of {self.actor.get_username()} does not say prescriber."
            )

    def _current_version(self, order: domain.MedicationOrder) -> domain.MedicationOrder:
        if order.audit is None:
            raise RuleViolation("Update an order that was read from the repository (it carries its version).")
        row = self._existing(order.id)
        if row.version != order.audit.version:
            raise ConcurrencyError("Medication order", row, order.audit.version, row.version)
        return row.to_domain()

    def _rows(self, patient_id):
        patient_id = parse_id(patient_id)
        if patient_id is None:
            return models.MedicationOrder.objects.none()
        return models.MedicationOrder.objects.select_related(*ORDER_RELATIONS).filter(patient_id=patient_id)

    def _row(self, order_id) -> models.MedicationOrder | None:
        order_id = parse_id(order_id)
        if order_id is None:
            return None
        return models.MedicationOrder.objects.select_related(*ORDER_RELATIONS).filter(pk=order_id).first()

    def _existing(self, order_id) -> models.MedicationOrder:
        row = self._row(order_id)
        if row is None:
            raise NotFound(f"No medication order with id {order_id}.")
        return row

    def _locked(self, order_id, version: int | None) -> models.MedicationOrder:
        """Return the order row locked for this transaction; refuse a stale version."""
        order_id = parse_id(order_id)
        row = models.MedicationOrder.objects.select_for_update().filter(pk=order_id).first() if order_id else None
        if row is None:
            raise NotFound(f"No medication order with id {order_id}.")
        if version is not None and row.version != version:
            raise ConcurrencyError("Medication order", row, version, row.version)
        return row


def _content(order: domain.MedicationOrder) -> tuple:
    """Return the details of an order a revision may change or must keep."""
    return tuple(
        getattr(order, field)
        for field in (
            *domain.IDENTITY_FIELDS,
            *domain.REVISABLE_FIELDS,
            "start_date",
            "allergy_override_reason",
            "duplicate_override_reason",
        )
    )


class DjangoAllergyRepository:
    """A patient's allergies, recorded on behalf of one named user (`actor`)."""

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    def add(self, allergy: domain.Allergy) -> domain.Allergy:
        """Record `allergy` on the patient's record and return it as stored."""
        with transaction.atomic():
            patients_repository.lock_patient(allergy.patient_id)
            row = models.Allergy()
            row.update_from_domain(allergy)
            audit.checked_save(row, actor=self.actor, reason="Allergy recorded")
        return self.get_by_id(row.pk)

    def get_by_id(self, allergy_id) -> domain.Allergy | None:
        """Return the allergy with this id, or None."""
        allergy_id = parse_id(allergy_id)
        row = (
            models.Allergy.objects.select_related("created_by", "updated_by").filter(pk=allergy_id).first()
            if allergy_id
            else None
        )
        return row.to_domain() if row else None

    def update(self, allergy: domain.Allergy) -> domain.Allergy:
        """Store the changed details of `allergy`; refuse when it was read at an older version."""
        if allergy.audit is None:
            raise RuleViolation("Update an allergy that was read from the repository (it carries its version).")
        with transaction.atomic():
            row = models.Allergy.objects.filter(pk=parse_id(allergy.id)).first() if parse_id(allergy.id) else None
            if row is None:
                raise NotFound(f"No allergy with id {allergy.id}.")
            if allergy.patient_id != row.patient_id:
                raise RuleViolation("An allergy stays on the record of the patient it was recorded for.")
            patients_repository.lock_patient(row.patient_id)
            row.version = allergy.audit.version  # the UPDATE itself checks it
            row.update_from_domain(allergy)
            audit.checked_save(row, actor=self.actor, reason="Allergy changed")
        return self.get_by_id(row.pk)

    def delete(self, allergy_id) -> domain.Allergy:
        """Retire the allergy as entered in error: entries are kept, never deleted."""
        allergy = self.get_by_id(allergy_id)
        if allergy is None:
            raise NotFound(f"No allergy with id {allergy_id}.")
        return self.update(dataclasses.replace(allergy, status=domain.AllergyStatus.ENTERED_IN_ERROR))

    def for_patient(self, patient_id, *, include_inactive: bool = False) -> list[domain.Allergy]:
        """Return the patient's allergies (active only, unless `include_inactive`), oldest first."""
        patient_id = parse_id(patient_id)
        if patient_id is None:
            return []
        rows = models.Allergy.objects.select_related("created_by", "updated_by").filter(patient_id=patient_id)
        if not include_inactive:
            rows = rows.filter(status=domain.AllergyStatus.ACTIVE.value)
        return [row.to_domain() for row in rows.order_by("created_at")]
