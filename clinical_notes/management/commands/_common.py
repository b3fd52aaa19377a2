"""What the note commands share: the acting user, note ids, text read from files, error wording.

Clinical text is never taken from the command line, where shell history and the process list
would keep it: it is read from a file, or from standard input with "-".
"""

import sys
import uuid

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from novamind.domain import RuleViolation


def add_actor_argument(parser):
    """Add the required --actor option."""
    parser.add_argument(
        "--actor", required=True, metavar="USERNAME",
        help="The staff user in whose name the command acts (required; recorded in the history and access log).",
    )


def actor(username: str):
    """Return the active user named `username`, or raise CommandError."""
    user = get_user_model().objects.select_related("staff_profile").filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named '{username}'. Give an existing staff username with --actor.")
    if not user.is_active:
        raise CommandError(f"User '{username}' is inactive and cannot act.")
    return user


def note_id(value: str) -> uuid.UUID:
    """Return `value` as a note id, or raise CommandError."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"'{value}' is not a note id (a UUID such as 3f2b…-…).") from None


def read_text(path: str, what: str, stdin=None) -> str:
    """Return the text of the file at `path` ("-": `stdin` or standard input), or raise CommandError."""
    try:
        if path == "-":
            return (stdin or sys.stdin).read()
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise CommandError(f"Cannot read the {what} from '{path}': {error.strerror}.") from None
    except UnicodeDecodeError:
        raise CommandError(f"The {what} file '{path}' is not UTF-8 text.") from None


def describe(violation: RuleViolation) -> str:
    """Return the messages of `violation`, one line per field."""
    lines = []
    for field, messages in violation.errors.items():
        prefix = "" if field == RuleViolation.NON_FIELD else f"{field}: "
        lines.extend(prefix + message for message in messages)
    return "\n".join(lines)
