"""System checks of the clinic's cross-app features (registered by ClinicConfig.ready)."""

from django.conf import settings
from django.core import checks


# Tagged and numbered as the kernel's checks were, so `check --tag novamind` and the documented id still hold.
@checks.register("novamind")
def check_retention_period(app_configs=None, **kwargs):
    """Refuse a retention period shorter than HIPAA's six years, in every mode."""
    from clinic import retention

    problem = retention.period_problem(settings.NOVAMIND_RETENTION_YEARS)
    if problem is None:
        return []
    return [
        checks.Error(
            problem,
            hint=f"Set NOVAMIND_RETENTION_YEARS to {retention.HIPAA_MINIMUM_YEARS} or more (state law may require longer).",
            id="novamind.E040",
        )
    ]
