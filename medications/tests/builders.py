"""Plain builders of domain objects for the medication tests (no database)."""

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

from medications import domain

TODAY = dt.date(2026, 3, 16)
PATIENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
DRLEE = domain.Prescriber(
    user_id=1, username="drlee", display_name="Dana Lee, MD", is_prescriber=True, has_dea_registration=True
)
NO_DEA = domain.Prescriber(user_id=2, username="drnodea", display_name="Noel Dea, NP", is_prescriber=True)
FRONT_DESK = domain.Prescriber(user_id=3, username="frontdesk", display_name="Felix Desk")


def an_order(**changes) -> domain.MedicationOrder:
    """Return a valid sertraline order, with `changes`."""
    base = domain.MedicationOrder(
        patient_id=PATIENT_ID,
        prescriber=DRLEE,
        drug_name="sertraline",
        strength="50 mg",
        dose_form=domain.DoseForm.TABLET,
        dose_amount=Decimal("50"),
        dose_unit=domain.DoseUnit.MG,
        route=domain.Route.ORAL,
        frequency=domain.Frequency(kind=domain.FrequencyKind.ONCE_DAILY),
        start_date=TODAY - dt.timedelta(days=30),
        quantity=Decimal("30"),
        refills=2,
    )
    return dataclasses.replace(base, **changes)


def a_stored_order(**changes) -> domain.MedicationOrder:
    """Return an order as if read back from the repository (it has an id and a write date)."""
    return an_order(**{"id": uuid.uuid4(), "written_on": TODAY - dt.timedelta(days=30), **changes})


def an_allergy(substance, **changes) -> domain.Allergy:
    """Return an active allergy of the test patient to `substance`."""
    return dataclasses.replace(domain.Allergy(patient_id=PATIENT_ID, substance=substance), **changes)
