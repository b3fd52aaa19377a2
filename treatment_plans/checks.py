"""System checks of the treatment-plans app (registered by TreatmentPlansConfig.ready)."""

from django.conf import settings
from django.core import checks

from treatment_plans import domain


# Tagged and numbered as the kernel's checks are, so `check --tag novamind` finds every one.
@checks.register("novamind")
def check_plan_review_days(app_configs=None, **kwargs):
    """Refuse a plan review period that is not a whole number of days between 1 and a year."""
    problem = domain.review_days_problem(settings.NOVAMIND_PLAN_REVIEW_DAYS)
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint=f"Set NOVAMIND_PLAN_REVIEW_DAYS to a number of days from 1 to {domain.REVIEW_DAYS_MAX} (default 90).",
            id="novamind.E070",
        )
    ]
