"""The shared kernel of the domain: errors and audit metadata every entity uses.

Standard library only: the domain layer knows nothing of Django.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
import uuid


class DomainError(Exception):
    """Base class of every error a domain rule raises."""


class RuleViolation(DomainError):
    """One or more fields break a domain rule; `errors` maps each field to its messages."""

    NON_FIELD = "__all__"

    def __init__(self, errors: dict[str, list[str]] | str):
        if isinstance(errors, str):
            errors = {self.NON_FIELD: [errors]}
        self.errors = {field: list(messages) for field, messages in errors.items()}
        super().__init__("; ".join(f"{f}: {' '.join(m)}" for f, m in self.errors.items()))


class ConcurrencyError(DomainError):
    """The record was changed by someone else since it was read; nothing was written."""

    def __init__(self, entity: str, entity_id, expected_version: int, current_version: int | None):
        self.entity = entity
        self.entity_id = entity_id
        self.expected_version = expected_version
        self.current_version = current_version
        super().__init__(
            f"{entity} {entity_id} was changed by someone else (you had version "
            f"{expected_version}, the record is at version {current_version}); reload it and "
            f"apply your change again."
        )


class NotFound(DomainError):
    """No record with that identity exists."""


class AccessDenied(DomainError):
    """The access policy refuses this user this record or this action; nothing was read or written."""


class Choice(str, enum.Enum):
    """An enumeration whose members carry the label staff read."""

    def __new__(cls, value, label):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """Return (value, label) pairs for forms."""
        return [(member.value, member.label) for member in cls]


REQUIRED = "This field is required."  # Django's own wording, so a form shows one message, not two


def canonical_hash(content: dict) -> str:
    """Return the SHA-256 of `content` as canonical JSON (sorted keys, no spaces, UTF-8): what a signature seals."""
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def utc_iso(moment: dt.datetime) -> str:
    """Return `moment` in UTC as ISO 8601 to the microsecond, as sealed content writes times."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def choice_or(kind, value, default=None):
    """Return `value` as the enum `kind`, or `default` when it is empty or not one of its values."""
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except ValueError:
        return default


class Collector:
    """Gather rule violations field by field, then raise them together."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        """Record `message` against `field`."""
        self.errors.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        """Raise RuleViolation when any error was recorded."""
        if self.errors:
            raise RuleViolation(self.errors)


# No record of the clinic is dated before this: older dates are typing errors, and far ones would
# overflow a column or a time-zone conversion (year 1 in UTC-5 is year 0).
EARLIEST_DATE = dt.date(1900, 1, 1)


def years_from(day: dt.date, years: int) -> dt.date:
    """Return the same calendar day `years` later (or earlier, if negative); 29 February becomes 28."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def date_bounds_error(value: dt.date, *, earliest: dt.date, latest: dt.date) -> str | None:
    """Return why `value` lies outside [earliest, latest] in words staff understand, or None."""
    if earliest <= value <= latest:
        return None
    if value > latest:
        return f"Enter a date no later than {_spoken(latest)}."
    return f"Enter a date no earlier than {_spoken(earliest)}."


def _spoken(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%B')} {day.year}"


@dataclasses.dataclass(frozen=True)
class AuditInfo:
    """Who created and last changed a record, when, and at which version."""

    created_by: str
    updated_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


def new_id() -> uuid.UUID:
    """Return a new random identity."""
    return uuid.uuid4()


def parse_count(value) -> int | None:
    """Return the whole number `value` spells in ASCII digits (or is), or None when it spells none.

    Not `str.isdigit()`: it is true of "³" and "٣", which `int()` refuses or reads as another
    number, so a posted "³" would be a 500.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def parse_id(value) -> uuid.UUID | None:
    """Return the identity `value` names (a UUID or its text), or None when it names none."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
