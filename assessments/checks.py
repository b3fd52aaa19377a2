"""System checks of the assessments app (registered by AssessmentsConfig.ready)."""

from django.conf import settings
from django.core import checks


def review_hours_problem(hours) -> str | None:
    """Return why `hours` cannot be the window a risk answer is reviewed in, or None when it can."""
    if isinstance(hours, bool) or not isinstance(hours, int):
        return f"NOVAMIND_RISK_REVIEW_HOURS must be a whole number of hours, not {hours!r}."
    if hours < 1:
        return f"NOVAMIND_RISK_REVIEW_HOURS is {hours}: a risk answer needs a review window of at least one hour."
    return None


# Tagged and numbered as the kernel's checks are, so `check --tag novamind` finds every one.
@checks.register("novamind")
def check_risk_review_hours(app_configs=None, **kwargs):
    """Refuse a review window for risk answers that is not a positive number of hours."""
    problem = review_hours_problem(settings.NOVAMIND_RISK_REVIEW_HOURS)
    if problem is None:
        return []
    return [checks.Error(problem, hint="Set NOVAMIND_RISK_REVIEW_HOURS to 1 or more (default 24).", id="novamind.E071")]
