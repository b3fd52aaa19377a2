"""The shared kernel of the domain: errors and audit metadata every entity uses.

Standard library only: the domain layer knows nothing of Django.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
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
