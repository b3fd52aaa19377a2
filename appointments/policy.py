"""The practice's scheduling settings, read when they are used so tests and deployments can vary them."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from appointments import domain


def longest() -> dt.timedelta:
    """Return the longest appointment that may be booked (NOVAMIND_MAX_APPOINTMENT_MINUTES)."""
    return dt.timedelta(minutes=settings.NOVAMIND_MAX_APPOINTMENT_MINUTES)


def late_cancellation_window() -> dt.timedelta:
    """Return how close to the start a cancellation counts as late (NOVAMIND_LATE_CANCELLATION_HOURS)."""
    return dt.timedelta(hours=settings.NOVAMIND_LATE_CANCELLATION_HOURS)


def no_show_grace() -> dt.timedelta:
    """Return how long after its end an unattended appointment becomes a no-show (NOVAMIND_NO_SHOW_GRACE_MINUTES)."""
    return dt.timedelta(minutes=settings.NOVAMIND_NO_SHOW_GRACE_MINUTES)


def zone() -> dt.tzinfo:
    """Return the clinic's time zone (TIME_ZONE): days, weeks and messages are in local time."""
    return timezone.get_current_timezone()


def today() -> dt.date:
    """Return today's date in the clinic's time zone (the reference of the bookable years)."""
    return timezone.localdate()


def working_hours() -> domain.WorkingHours:
    """Return when visits are booked (NOVAMIND_WORKING_HOURS; the system check appointments.E001 reads it at start-up)."""
    return domain.WorkingHours.parse(settings.NOVAMIND_WORKING_HOURS)
