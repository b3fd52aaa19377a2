"""What the note commands share: note ids and text read from files (the actor: novamind.commands).

Clinical text is never taken from the command line, where shell history and the process list
would keep it: it is read from a file, or from standard input with "-".
"""

import sys
import uuid

from django.core.management.base import CommandError

from novamind.commands import active_staff, add_actor_argument, describe  # noqa: F401 (the note commands' toolkit)
from novamind.domain import parse_id


def actor(username: str):
    """Return the active staff user named `username`, or raise CommandError."""
    return active_staff(username)


def note_id(value: str) -> uuid.UUID:
    """Return `value` as a note id, or raise CommandError."""
    parsed = parse_id(value)
    if parsed is None:
        raise CommandError(f"'{value}' is not a note id (a UUID such as 3f2b…-…).")
    return parsed


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
