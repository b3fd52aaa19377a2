"""What every management command shares: the acting user (`--actor`) and error wording.

Every command that reads or writes PHI acts in the name of a named, active staff user, so its
writes are attributed and its reads are logged like the admin's. The actor passes the checks the
admin would make: the role permissions the command needs (`active_staff(..., permissions=...)`)
and, for one patient's records, the access policy's care rule, whose refusal (`AccessDenied`)
`refusals()` turns into the command's error: exit status 1, the reason on standard error.
"""

import contextlib
import os
import pathlib
import tempfile

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from novamind.domain import AccessDenied, RuleViolation


def add_actor_argument(parser, *, help_text: str | None = None) -> None:
    """Add the required --actor option."""
    parser.add_argument(
        "--actor",
        required=True,
        metavar="USERNAME",
        help=help_text
        or "The staff user in whose name the command acts (required; recorded in the history and access log).",
    )


def active_staff(username: str, *, option: str = "--actor", permissions: tuple[str, ...] = (), superuser=False):
    """Return the active staff user `username`, or raise CommandError naming the option.

    `permissions` ("app.codename") are the role permissions the command needs, the ones the
    admin asks for the same work; `superuser` says that no role may do it.
    """
    user = get_user_model().objects.select_related("staff_profile").filter(username=username).first()
    if user is None:
        raise CommandError(f"{option} '{username}': no user named '{username}'. Give an existing staff username.")
    if not user.is_active or not user.is_staff:
        raise CommandError(f"{option} '{username}' is not an active staff user and cannot act.")
    if superuser and not user.is_superuser:
        raise CommandError(f"{option} '{username}' may not do this: only a superuser may.")
    missing = [permission for permission in permissions if not user.has_perm(permission)]
    if missing:
        raise CommandError(
            f"{option} '{username}' may not do this: their roles lack {', '.join(missing)} "
            f"(the permission(s) the admin asks for the same work)."
        )
    return user


@contextlib.contextmanager
def refusals(option: str = "--actor"):
    """Turn the access policy's refusal (AccessDenied) inside the block into a CommandError."""
    try:
        yield
    except AccessDenied as refusal:
        raise CommandError(f"{option}: refused. {refusal} Nothing was read or written.") from None


def describe(violation: RuleViolation) -> str:
    """Return the messages of `violation`, one line per field."""
    lines = []
    for field, messages in violation.errors.items():
        prefix = "" if field == RuleViolation.NON_FIELD else f"{field}: "
        lines.extend(prefix + message for message in messages)
    return "\n".join(lines)


@contextlib.contextmanager
def private_file(path: str):
    """Yield a text stream to a new file at `path`, mode 0600, that appears only when complete.

    The text is written to a temporary file in the same directory and renamed into place at
    the end, so a failed run leaves nothing behind, and a reader never sees half a file.
    """
    target = pathlib.Path(path).expanduser()
    if target.is_dir():
        raise CommandError(f"--output {path!r} is a directory; give the name of the file to create.")
    if target.exists() or target.is_symlink():
        raise CommandError(f"--output {path!r} already exists; a command never overwrites a file: choose another name.")
    directory = target.parent
    if not directory.is_dir():
        raise CommandError(f"--output {path!r}: the directory {str(directory)!r} does not exist.")
    try:
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".partial")
    except OSError as error:
        raise CommandError(
            f"--output {path!r}: cannot create a file in {str(directory)!r} ({error.strerror})."
        ) from None
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp's default, stated: the file holds PHI
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
