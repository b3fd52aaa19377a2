"""What every management command shares: the acting user (`--actor`) and error wording.

Every command that reads or writes PHI acts in the name of a named, active staff user, so its
writes are attributed and its reads are logged like the admin's.
"""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from novamind.domain import RuleViolation


def add_actor_argument(parser, *, help_text: str | None = None) -> None:
    """Add the required --actor option."""
    parser.add_argument(
        "--actor", required=True, metavar="USERNAME",
        help=help_text or "The staff user in whose name the command acts (required; recorded in the history and access log).",
    )


def active_staff(username: str, *, option: str = "--actor"):
    """Return the active staff user `username`, or raise CommandError naming the option."""
    user = get_user_model().objects.select_related("staff_profile").filter(username=username).first()
    if user is None:
        raise CommandError(f"{option} '{username}': no user named '{username}'. Give an existing staff username.")
    if not user.is_active or not user.is_staff:
        raise CommandError(f"{option} '{username}' is not an active staff user and cannot act.")
    return user


def describe(violation: RuleViolation) -> str:
    """Return the messages of `violation`, one line per field."""
    lines = []
    for field, messages in violation.errors.items():
        prefix = "" if field == RuleViolation.NON_FIELD else f"{field}: "
        lines.extend(prefix + message for message in messages)
    return "\n".join(lines)
