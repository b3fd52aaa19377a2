"""Demo medication histories for `seed_demo`: revisions, discontinuations, allergies and overrides.

Orders are written by the demo psychiatrist (drlee, a prescriber with a DEA number) through the
services, so every rule and check applies to the demo data too; the demo administrator first puts
drlee on the care team of each patient who gets a history. A patient who already has
orders or allergies is left alone, which makes a second run create nothing.

Which patients get a history, and which one, follows their place in the demo patient list (two
in five, the scenarios in turn, so every scenario appears); the dates are drawn from a generator
seeded by the patient's MRN. Not from the shared `rng`: the apps seeded before this one may draw
a different number of values on a second run (they skip what exists), and that must not change
what this app would create.
"""

import dataclasses
import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone

from medications import domain, models, services
from patients import services as patients_services

D = domain
EVERY, CHOSEN = 5, 2  # two patients in every five get a history


def _order(
    patient_id,
    drug,
    strength,
    form,
    dose,
    unit,
    frequency,
    start,
    quantity,
    *,
    refills=0,
    schedule=D.Schedule.NONE,
    rxnorm="",
    instructions="",
    allergy_override="",
    duplicate_override="",
):
    return D.MedicationOrder(
        patient_id=patient_id,
        drug_name=drug,
        rxnorm_code=rxnorm,
        strength=strength,
        dose_form=form,
        dose_amount=Decimal(dose),
        dose_unit=unit,
        route=D.Route.ORAL,
        frequency=frequency,
        start_date=start,
        quantity=Decimal(quantity),
        refills=refills,
        schedule=schedule,
        instructions=instructions,
        allergy_override_reason=allergy_override,
        duplicate_override_reason=duplicate_override,
    )


def _daily(kind=D.FrequencyKind.ONCE_DAILY):
    return D.Frequency(kind=kind)


def _revise(prescriber, order, effective, **changes):
    return services.order_revise(order=dataclasses.replace(order, **changes), effective=effective, actor=prescriber)


def depression_titrated(prescriber, recorder, patient_id, today, days):
    """Sertraline started, then increased (a revision); trazodone for sleep, stopped."""
    start = today - dt.timedelta(days=days)
    first = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "sertraline",
            "50 mg",
            D.DoseForm.TABLET,
            "50",
            D.DoseUnit.MG,
            _daily(),
            start,
            "30",
            refills=2,
            rxnorm="36437",
            instructions="Take in the morning with food.",
        ),
    )
    _revise(
        prescriber,
        first,
        start + dt.timedelta(days=days // 2),
        dose_amount=Decimal("100"),
        dose_unit=D.DoseUnit.MG,
        quantity=Decimal("60"),
        instructions="Take two 50 mg tablets in the morning with food.",
    )
    sleep = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "trazodone",
            "50 mg",
            D.DoseForm.TABLET,
            "50",
            D.DoseUnit.MG,
            D.Frequency(kind=D.FrequencyKind.AT_BEDTIME, as_needed=True, indication="insomnia"),
            start,
            "30",
            refills=1,
        ),
    )
    services.order_discontinue(
        actor=prescriber,
        order_id=sleep.id,
        reason=D.DiscontinueReason.NO_LONGER_NEEDED,
        on=start + dt.timedelta(days=days // 3),
    )


def panic_with_bridge(prescriber, recorder, patient_id, today, days):
    """Escitalopram, with lorazepam as needed while it takes effect, then lorazepam stopped."""
    start = today - dt.timedelta(days=days)
    services.allergy_add(
        actor=recorder,
        allergy=D.Allergy(
            patient_id=patient_id, substance="penicillin", reaction="hives", severity=D.AllergySeverity.MODERATE
        ),
    )
    services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "escitalopram",
            "10 mg",
            D.DoseForm.TABLET,
            "10",
            D.DoseUnit.MG,
            _daily(),
            start,
            "30",
            refills=5,
        ),
    )
    bridge = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "lorazepam",
            "0.5 mg",
            D.DoseForm.TABLET,
            "0.5",
            D.DoseUnit.MG,
            D.Frequency(kind=D.FrequencyKind.EVERY_N_HOURS, interval=8, as_needed=True, indication="panic attacks"),
            start,
            "20",
            schedule=D.Schedule.IV,
            instructions="No more than three tablets a day.",
        ),
    )
    services.order_discontinue(
        actor=prescriber,
        order_id=bridge.id,
        reason=D.DiscontinueReason.NO_LONGER_NEEDED,
        on=start + dt.timedelta(days=min(30, days)),
    )


def bipolar_with_allergy_override(prescriber, recorder, patient_id, today, days):
    """Lithium revised to twice daily; lamotrigine despite a carbamazepine allergy, overridden."""
    start = today - dt.timedelta(days=days)
    services.allergy_add(
        actor=recorder,
        allergy=D.Allergy(
            patient_id=patient_id,
            substance="carbamazepine",
            reaction="maculopapular rash",
            severity=D.AllergySeverity.SEVERE,
        ),
    )
    lithium = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "lithium carbonate",
            "300 mg",
            D.DoseForm.CAPSULE,
            "600",
            D.DoseUnit.MG,
            _daily(D.FrequencyKind.AT_BEDTIME),
            start,
            "60",
            refills=3,
            instructions="Blood level check 5 days after any dose change.",
        ),
    )
    _revise(
        prescriber,
        lithium,
        start + dt.timedelta(days=days // 2),
        dose_amount=Decimal("300"),
        frequency=_daily(D.FrequencyKind.TWICE_DAILY),
        instructions="Take with meals. Level check in 5 days.",
    )
    services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "lamotrigine",
            "25 mg",
            D.DoseForm.TABLET,
            "25",
            D.DoseUnit.MG,
            _daily(),
            start + dt.timedelta(days=days // 3),
            "30",
            instructions="Stop and call at once if a rash appears.",
            allergy_override="Rash on carbamazepine years ago was not SJS; slow titration, patient taught rash warning signs.",
        ),
    )


def psychosis_cross_taper(prescriber, recorder, patient_id, today, days):
    """Aripiprazole started; quetiapine kept during the cross-taper (duplicate override), then stopped."""
    start = today - dt.timedelta(days=days)
    quetiapine = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "quetiapine",
            "100 mg",
            D.DoseForm.TABLET,
            "200",
            D.DoseUnit.MG,
            _daily(D.FrequencyKind.AT_BEDTIME),
            start,
            "60",
            refills=2,
        ),
    )
    services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "aripiprazole",
            "5 mg",
            D.DoseForm.TABLET,
            "5",
            D.DoseUnit.MG,
            _daily(),
            start + dt.timedelta(days=days // 2),
            "30",
            refills=2,
            duplicate_override="Cross-taper from quetiapine over four weeks because of weight gain.",
        ),
    )
    services.order_discontinue(
        actor=prescriber,
        order_id=quetiapine.id,
        reason=D.DiscontinueReason.ADVERSE_EFFECT,
        on=start + dt.timedelta(days=days // 2 + 28),
        note="Weight gain of 6 kg; cross-taper to aripiprazole completed.",
    )


def adhd_titrated(prescriber, recorder, patient_id, today, days):
    """Methylphenidate ER (schedule II, no refills) increased once; a two-week course completed."""
    start = today - dt.timedelta(days=days)
    first = services.order_prescribe(
        actor=prescriber,
        order=_order(
            patient_id,
            "methylphenidate ER",
            "18 mg",
            D.DoseForm.TABLET_ER,
            "18",
            D.DoseUnit.MG,
            _daily(D.FrequencyKind.EVERY_MORNING),
            start,
            "30",
            schedule=D.Schedule.II,
        ),
    )
    _revise(prescriber, first, start + dt.timedelta(days=days // 2), strength="36 mg", dose_amount=Decimal("36"))
    course = services.order_prescribe(
        actor=prescriber,
        order=dataclasses.replace(
            _order(
                patient_id,
                "hydroxyzine",
                "25 mg",
                D.DoseForm.TABLET,
                "25",
                D.DoseUnit.MG,
                D.Frequency(kind=D.FrequencyKind.AS_NEEDED, indication="anxiety"),
                start,
                "30",
            ),
            end_date=start + dt.timedelta(days=14),
        ),
    )
    services.order_complete(actor=prescriber, order_id=course.id)


SCENARIOS = (
    depression_titrated,
    panic_with_bridge,
    bipolar_with_allergy_override,
    psychosis_cross_taper,
    adhd_titrated,
)


def seed(*, actor, staff, rng, stdout, patients, **context):
    """Create demo medication histories for some of the demo patients; return nothing new."""
    prescriber = staff["drlee"]
    today = timezone.localdate()
    created = skipped = 0
    for position, patient in enumerate(patients):
        group, place = divmod(position, EVERY)
        if place >= CHOSEN:
            continue
        scenario = SCENARIOS[(group * CHOSEN + place) % len(SCENARIOS)]
        days = random.Random(f"medications demo {patient.mrn}").randint(90, 400)
        if (
            models.MedicationOrder.objects.filter(patient_id=patient.id).exists()
            or models.Allergy.objects.filter(patient_id=patient.id).exists()
        ):
            skipped += 1
            continue
        # Care begins by an explicit act, never by prescribing: the demo administrator, as the
        # front desk would, puts the psychiatrist on the patient's care team first.
        patients_services.care_assign(patient_id=patient.id, clinician=prescriber, actor=actor)
        scenario(prescriber, actor, patient.id, today, days)
        created += 1
    stdout.write(f"Medications: histories for {created} patients created, {skipped} already there.")
    return {}
