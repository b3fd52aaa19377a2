"""Verify the whole audit trail: every registered chain, then every checkpoint kept outside the database.

Only a trail found intact is checkpointed, so a checkpoint never blesses a broken state.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from django.db import connection, transaction

from novamind import chains, checkpoints


@dataclasses.dataclass
class TrailVerification:
    """What `verify` found: entries checked per chain, checkpoints compared, problems, the new checkpoint."""

    checked: dict[str, int]
    compared: int
    problems: list[str]
    written: Path | None = None

    @property
    def ok(self) -> bool:
        """Return whether the trail is intact."""
        return not self.problems


def verify(*, checkpoint: bool = True) -> TrailVerification:
    """Verify every chain and compare it with every checkpoint; if all is intact, write a checkpoint.

    The database is read in one snapshot, so an entry staff append meanwhile is neither half-seen
    (a head row ahead of the entries walked reads as a cut tail) nor checkpointed unverified.
    """
    # Checkpoints first: one that a concurrent run writes after the snapshot began could witness
    # entries the snapshot cannot see, and would read as a cut tail.
    source = checkpoints.directory()
    found, problems = checkpoints.read_all(source) if source else ([], [])
    checked, digests = {}, {}
    with _snapshot():
        registered = chains.all_chains()
        states = {chain.name: chain.state() for chain in registered}
        for chain in registered:
            result = chain.verify()
            checked[chain.label] = result.checked
            problems += [f"{chain.label}: {problem}" for problem in result.problems]
        for witness in found:
            problems += checkpoints.compare(witness, states, digests)
    if source is None:
        problems.append(
            "checkpoints: NOVAMIND_AUDIT_CHECKPOINT_DIR is not set, so nothing outside the database "
            "witnesses the trail (an emptied or trimmed chain would pass)"
        )

    outcome = TrailVerification(checked, len(found), problems)
    if checkpoint and outcome.ok:
        try:
            outcome.written = checkpoints.write(states.values(), into=source)
        except OSError as error:
            problems.append(
                f"checkpoints: cannot write a checkpoint into {source} ({error.__class__.__name__}: {error.strerror})"
            )
    return outcome


@contextlib.contextmanager
def _snapshot():
    """Read in one transaction that sees the database as of its first query (PostgreSQL: REPEATABLE READ).

    Inside a caller's transaction (a test's), that transaction's view is the one there is.
    """
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
