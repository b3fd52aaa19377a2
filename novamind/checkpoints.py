"""Signed checkpoints of the audit trail, kept outside the database.

A chain proves that no link in it was changed, but not that links were not taken off its end:
someone who can write the database can empty a chain, or cut its tail and rewind its head row,
and what is left still verifies. A checkpoint is the witness that cannot be rewound from the
database: after an intact verification, `verify_audit` writes where every registered chain
ended (sequence, digest, count) and when, signed with a key derived from AUDIT_LOG_KEY, as a new
file that is never rewritten (`NOVAMIND_AUDIT_CHECKPOINT_DIR`, meant for write-once storage).
Every later verification compares the database with every checkpoint (`compare`).

Checkpoints are kept per database, in a subdirectory named after the configured engine and
database name (`database_name`): configuration the database cannot change, so an insider with
full database access cannot point verification at another set of checkpoints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import connection

from novamind import chains

FORMAT = 1
# The checkpoint key is HMAC(AUDIT_LOG_KEY, label): a checkpoint's MAC can never pass for a
# chain digest (or the reverse), although both come from the same secret.
KEY_LABEL = b"novamind.audit-checkpoint.v1"
FILE_MODE = 0o440
SUFFIX = ".json"


class CheckpointError(Exception):
    """A checkpoint file that cannot be read, or whose signature does not match its content."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """Where every chain ended when an intact verification wrote this file."""

    file: str
    written_at: dt.datetime
    database: str
    chains: tuple[chains.ChainState, ...]

    def describe(self, state: chains.ChainState) -> str:
        """Return how problems name this checkpoint: its file, the chain's sequence and the time."""
        return f"checkpoint {self.file} (#{state.sequence} at {_timestamp(self.written_at)})"


def database_name(using=connection) -> str:
    """Return the name of the configured database's own subdirectory: its engine and name."""
    name = str(using.settings_dict["NAME"])
    if using.vendor == "sqlite":
        name = name.rsplit("/", 1)[-1]  # the file, not the checkout it lives in
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{using.vendor}-{name}")


def directory() -> Path | None:
    """Return this database's checkpoint directory, or None when no checkpoint directory is set."""
    base = settings.NOVAMIND_AUDIT_CHECKPOINT_DIR
    return Path(base) / database_name() if base else None


def write(states: Iterable[chains.ChainState], *, into: Path, now: dt.datetime | None = None) -> Path:
    """Write a new signed checkpoint of `states` into `into`; never replace an existing file."""
    states = tuple(states)
    written_at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    body = {
        "format": FORMAT,
        "written_at": _timestamp(written_at),
        "database": into.name,
        "chains": [dataclasses.asdict(state) for state in states],
    }
    text = json.dumps({**body, "mac": _mac(body)}, indent=2, sort_keys=True) + "\n"
    into.mkdir(mode=0o750, parents=True, exist_ok=True)
    # Time first, then the trail's length, so names sort in writing order.
    path = into / f"{written_at:%Y%m%dT%H%M%S%fZ}-{sum(state.sequence for state in states):012d}{SUFFIX}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(descriptor, text.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def read_all(source: Path) -> tuple[list[Checkpoint], list[str]]:
    """Return every checkpoint in `source`, oldest first, and a problem for each file that is not one."""
    if not source.is_dir():
        return [], []
    found, problems = [], []
    for path in sorted(source.iterdir()):
        if path.name.startswith("."):
            continue
        try:
            found.append(read(path, database=source.name))
        except CheckpointError as error:
            problems.append(f"checkpoint {path.name}: {error}")
    return found, problems


def read(path: Path, *, database: str) -> Checkpoint:
    """Return the checkpoint in `path`, checking its signature and that it belongs to `database`."""
    try:
        document = json.loads(path.read_bytes().decode("utf-8"))
        body = {key: document[key] for key in ("format", "written_at", "database", "chains")}
        mac = document["mac"]
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"cannot be read ({error.__class__.__name__})") from error
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(body)):
        raise CheckpointError("its signature does not match its content (altered, or not written by NovaMind)")
    if body["format"] != FORMAT:
        raise CheckpointError(f"format {body['format']!r} is not one this version reads ({FORMAT})")
    if body["database"] != database:
        raise CheckpointError(f"was written for database {body['database']!r}, not this one ({database!r})")
    try:
        written_at = dt.datetime.fromisoformat(body["written_at"])
        states = tuple(chains.ChainState(**state) for state in body["chains"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"cannot be read ({error.__class__.__name__})") from error
    return Checkpoint(file=path.name, written_at=written_at, database=database, chains=states)


def compare(checkpoint: Checkpoint, now: dict[str, chains.ChainState], digests: dict | None = None) -> list[str]:
    """Return what the database contradicts in `checkpoint`; `now` holds each chain's current state.

    A chain that ends below the checkpoint was emptied, trimmed or rewound; a chain whose link at
    the checkpoint's sequence is missing or holds another digest was cut and written again. A
    chain the checkpoint witnessed must still be registered. `digests` keeps the links looked up
    across calls: a quiet chain stands at the same sequence in many checkpoints.
    """
    digests = {} if digests is None else digests
    problems = []
    for witnessed in checkpoint.chains:
        chain, current = chains.get(witnessed.name), now.get(witnessed.name)
        where = checkpoint.describe(witnessed)
        if chain is None or current is None:
            problems.append(f"chain {witnessed.name!r} is in {where} but no longer registered")
            continue
        if current.sequence < witnessed.sequence:
            problems.append(
                f"{chain.label}: ends at #{current.sequence} ({current.count} entries), below {where}: "
                f"expected at least #{witnessed.sequence} ({witnessed.count} entries); "
                "entries were removed from the end (emptied, trimmed or rewound)"
            )
            continue
        if witnessed.sequence == 0:
            continue  # an empty chain witnesses no link
        retired = (witnessed.name, "retired through")
        if retired not in digests:
            digests[retired] = chain.retired_through()
        if witnessed.sequence < digests[retired]:
            continue  # dropped under retention; the anchor at its end is checked by the chain's verify
        key = (witnessed.name, witnessed.sequence)
        if key not in digests:
            digests[key] = chain.digest_at(witnessed.sequence)
        digest = digests[key]
        if digest is None:
            problems.append(f"{chain.label}: entry #{witnessed.sequence}, witnessed by {where}, is missing")
        elif not hmac.compare_digest(digest, witnessed.digest):
            problems.append(
                f"{chain.label}: entry #{witnessed.sequence} is not the one {where} witnessed: "
                f"expected digest {witnessed.digest[:16]}…, found {digest[:16]}… (cut and written again)"
            )
    return problems


def _mac(body: dict) -> str:
    key = hmac.new(settings.AUDIT_LOG_KEY.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
