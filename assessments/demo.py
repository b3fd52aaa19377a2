"""Demo questionnaires for `seed_demo`: monthly PHQ-9 and GAD-7 series, and risk answers, one still waiting.

Twelve demo patients get seven monthly scores each of the PHQ-9 or the GAD-7, recorded through
the services by the clinician the front desk first puts on their care team, so every rule applies
to the demo data too (scoring, alerts). The series follow a course in turn: improving to remission,
a partial response, unchanged, worsening. One improving patient answered item 9 of an early PHQ-9
above 0, and their clinician reviewed it; the last worsening PHQ-9 patient answered item 9 above 0
this week and nobody has reviewed it yet (it shows on their banner and the clinician's dashboard).
A patient who already has a response is left alone, so a second run creates nothing.

Dates and answers are drawn from a generator seeded by the patient's MRN, not from the shared
`rng`, so what this app creates does not depend on what the apps before it drew.
"""

import datetime as dt
import random

from django.utils import timezone

from assessments import domain, models, services
from patients import services as patients_services

PATIENTS = 12
SCORES = 7  # monthly, the latest this week
COURSES = {
    "improving": (19, 16, 13, 10, 7, 5, 3),
    "partial response": (17, 15, 14, 12, 11, 9, 8),
    "unchanged": (12, 13, 11, 12, 13, 12, 12),
    "worsening": (7, 8, 10, 11, 13, 15, 17),
}
CLINICIANS = ("drpatel", "msmith", "drlee")
WAITING = 6  # the first worsening PHQ-9 series: its latest risk answer waits for review
REVIEWED = (
    "Called the patient the same afternoon: passive thoughts, no plan or intent; safety plan reviewed, weekly visits."
)


def _answers(rng: random.Random, instrument: str, total: int, *, item9: int = 0) -> domain.Answers:
    """Return answers to the instrument's scored items that add up to `total` (item 9 of a PHQ-9 as given)."""
    numbers = list(range(1, 9)) if instrument == "phq9" else list(range(1, 8))
    items = {number: 0 for number in numbers}
    left = min(total - item9, 3 * len(numbers))
    while left > 0:
        number = rng.choice([n for n in numbers if items[n] < 3])
        items[number] += 1
        left -= 1
    if instrument == "phq9":
        items[9] = item9
        items[10] = min(3, total // 7)  # how difficult the problems made things: not scored
    return domain.Answers(items=items)


def _series(patient, clinician, *, instrument, course, today, waiting_risk, reviewed_risk):
    rng = random.Random(f"assessments demo {patient.mrn}")
    totals = COURSES[course]
    for index, total in enumerate(totals):
        weeks_ago = 4 * (len(totals) - 1 - index)
        given = today - dt.timedelta(weeks=weeks_ago, days=rng.randint(0, 3) if weeks_ago else 0)
        last = index == len(totals) - 1
        item9 = 1 if (waiting_risk and last) or (reviewed_risk and index == 1) else 0
        stored = services.response_record(
            response=domain.Response(
                patient_id=patient.id,
                instrument=instrument,
                administered_on=given,
                answers=_answers(rng, instrument, total, item9=item9),
            ),
            actor=clinician,
        )
        if item9 and reviewed_risk:
            alert = models.SafetyAlert.objects.get(response_id=stored.id)
            services.alert_review(alert_id=alert.pk, action_taken=REVIEWED, actor=clinician)


def seed(*, staff, stdout, patients, **context):
    """Record demo questionnaire series for some of the demo patients; return nothing new."""
    today = timezone.localdate()
    chosen = patients[:PATIENTS]
    courses = list(COURSES)
    created = skipped = 0
    for position, patient in enumerate(chosen):
        if models.Response.objects.filter(patient_id=patient.id).exists():
            skipped += 1
            continue
        clinician = staff[CLINICIANS[position % len(CLINICIANS)]]
        # Care begins by an explicit act (patients.policy): the front desk puts the clinician on the team.
        patients_services.care_assign(patient_id=patient.id, clinician=clinician, actor=staff["frontdesk"])
        # Pairs of patients follow each course in turn, one with the PHQ-9 and one with the GAD-7.
        instrument = "phq9" if position % 2 == 0 else "gad7"
        course = courses[(position // 2) % len(courses)]
        _series(
            patient,
            clinician,
            instrument=instrument,
            course=course,
            today=today,
            waiting_risk=position == WAITING,
            reviewed_risk=position == 0,
        )
        created += 1
    stdout.write(f"Measures: {created} patients' questionnaire series created, {skipped} already there.")
    return {}
