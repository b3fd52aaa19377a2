"""The tamper-evident chains of the audit trail, and the one registry `verify_audit` walks.

A chain is an append-only sequence of rows, each carrying an HMAC (AUDIT_LOG_KEY) over its content
and its predecessor's digest: the access log is one chain, and every change-history table is one
more. A chain can say where it ends (`state`), which digest it holds at a sequence (`digest_at`,
which a checkpoint kept outside the database is compared with), and what is wrong with it
(`verify`). The kernel knows no entity app: each chain registers itself when its app is ready.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class ChainState:
    """Where a chain ends: its last sequence and digest, and how many links it holds."""

    name: str
    sequence: int
    digest: str
    count: int


@dataclasses.dataclass
class Verification:
    """The outcome of checking one chain: how many links were checked and what is wrong."""

    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        """Return whether the chain is intact."""
        return not self.problems


class Chain(Protocol):
    """An append-only, HMAC-chained sequence of rows that verification can walk."""

    name: str
    label: str

    def state(self) -> ChainState:
        """Return where the chain ends now, as its rows say."""

    def digest_at(self, sequence: int) -> str | None:
        """Return the digest of the link at `sequence`, or None if there is no such link."""

    def retired_through(self) -> int:
        """Return the last sequence removed under retention with no link left to look up (0: none)."""

    def verify(self) -> Verification:
        """Walk the whole chain in order and report every link that breaks it."""


_chains: dict[str, Chain] = {}


def register(chain: Chain) -> None:
    """Add `chain` to the ones `verify_audit` checks (once per name)."""
    _chains[chain.name] = chain


def all_chains() -> list[Chain]:
    """Return every registered chain, ordered by name."""
    return [_chains[name] for name in sorted(_chains)]


def get(name: str) -> Chain | None:
    """Return the chain called `name`, if one is registered."""
    return _chains.get(name)
