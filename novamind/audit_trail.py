"""Verify the whole audit trail: every registered chain, then every checkpoint kept outside the database.

Only a trail found intact is checkpointed, so a checkpoint never blesses a broken state.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

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

    Each chain's state is taken before it is walked, so a checkpoint covers only entries the walk
    has seen, even while staff keep appending.
    """
    registered = chains.all_chains()
    states = {chain.name: chain.state() for chain in registered}
    checked, problems = {}, []
    for chain in registered:
        result = chain.verify()
        checked[chain.label] = result.checked
        problems += [f"{chain.label}: {problem}" for problem in result.problems]

    source = checkpoints.directory()
    if source is None:
        problems.append(
            "checkpoints: NOVAMIND_AUDIT_CHECKPOINT_DIR is not set, so nothing outside the database "
            "witnesses the trail (an emptied or trimmed chain would pass)"
        )
        return TrailVerification(checked, 0, problems)
    found, unreadable = checkpoints.read_all(source)
    problems += unreadable
    digests = {}
    for witness in found:
        problems += checkpoints.compare(witness, states, digests)

    outcome = TrailVerification(checked, len(found), problems)
    if checkpoint and outcome.ok:
        try:
            outcome.written = checkpoints.write(states.values(), into=source)
        except OSError as error:
            problems.append(
                f"checkpoints: cannot write a checkpoint into {source} ({error.__class__.__name__}: {error.strerror})"
            )
    return outcome
