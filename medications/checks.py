"""System checks of the medications app (registered by MedicationsConfig.ready)."""

from django.conf import settings
from django.core import checks

from medications import domain


# Tagged and numbered as the kernel's checks are, so `check --tag novamind` finds every one.
@checks.register("novamind")
def check_dose_change_factor(app_configs=None, **kwargs):
    """Refuse a dose-change factor that would not be a factor (1 or less, or not a number)."""
    problem = domain.dose_factor_problem(settings.NOVAMIND_DOSE_CHANGE_FACTOR)
    if problem is None:
        return []
    return [
        checks.Error(
            problem, hint="Set NOVAMIND_DOSE_CHANGE_FACTOR to a number above 1 (default 4).", id="novamind.E060"
        )
    ]
