"""What the appointment commands share: finding the acting user."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def active_staff(username: str, *, option: str = "--actor"):
    """Return the active staff user `username`, or raise CommandError naming the option."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"{option} {username!r}: there is no user with that username.")
    if not user.is_active or not user.is_staff:
        raise CommandError(f"{option} {username!r} is not an active staff user.")
    return user
