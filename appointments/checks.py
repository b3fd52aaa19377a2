"""Start-up checks of the scheduling settings: a setting that cannot be read stops the start, not a page."""

from django.core import checks

from appointments import policy


def register() -> None:
    """Register this module's checks (from the app's ready())."""
    checks.register(check_working_hours, "appointments")


def check_working_hours(app_configs=None, **kwargs):
    """Refuse to start with NOVAMIND_WORKING_HOURS that cannot be read."""
    try:
        policy.working_hours()
    except ValueError as error:
        return [
            checks.Error(
                f"NOVAMIND_WORKING_HOURS cannot be read: {error}",
                hint='Write it as days and hours in the clinic\'s time zone, e.g. "Mon-Fri 08:00-18:00".',
                id="appointments.E001",
            )
        ]
    return []
