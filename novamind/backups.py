"""Encrypted PostgreSQL backups with a manifest, and the kernel's half of the restore drill.

`create()` runs `pg_dump --format=custom` and streams its output through age (the `pyrage`
binding of the Rust `age` crate; X25519 recipient NOVAMIND_BACKUP_RECIPIENT) into
`<name>.dump.age`: the dump is never on disk in clear, and is never held in memory (both age
and this module work in chunks, so a backup of any size needs a few MiB). Beside it goes
`<name>.manifest.json`: the backup file's SHA-256 and size, rows per table, where every
audit chain ended, the newest audit checkpoint, the encryption keys' fingerprints and the
recipient; no PHI, no key. The manifest's figures and the dump come from one snapshot: this
module exports a REPEATABLE READ snapshot and `pg_dump --snapshot` dumps exactly it, so the
row counts and chain heads describe the very data in the file even while staff keep writing.
The manifest is signed with a key derived from AUDIT_LOG_KEY, like the audit checkpoints.

The drill (`scratch_database` and the checks below; clinic.restore_drill adds the records'
own verifications) restores a backup into a new database, points the `default` alias at it
for the duration of the checks, so every verification runs unchanged (they read through
`django.db.connection`), and always drops it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyrage
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.utils import DatabaseError, load_backend

from novamind import access, chains, checkpoints, encryption

FORMAT = 1
DUMP_SUFFIX = ".dump.age"
MANIFEST_SUFFIX = ".manifest.json"
# The manifest's MAC key is HMAC(AUDIT_LOG_KEY, label), as for the audit checkpoints.
KEY_LABEL = b"novamind.backup-manifest.v1"
CHUNK = 1024 * 1024
CATEGORY = "all_tables"
BACKUP_ACTION = "backup"
DRILL_ACTION = "restore drill"
SCRATCH_PREFIX = "novamind_drill_"
_aliases = itertools.count(1)


class BackupError(Exception):
    """A backup or a drill cannot go on; the message says why and what to do."""


# --- Configuration ---------------------------------------------------------------------------


def require_postgresql(using=connection) -> None:
    """Raise BackupError unless the configured database is PostgreSQL."""
    if using.vendor != "postgresql":
        raise BackupError(
            f"backups are made of PostgreSQL databases with pg_dump; the configured database is "
            f"{using.vendor} ({using.settings_dict['NAME']}). Copy the SQLite file while NovaMind is stopped instead."
        )


def recipient() -> pyrage.x25519.Recipient:
    """Return the configured backup recipient (the public key backups are encrypted to)."""
    text = settings.NOVAMIND_BACKUP_RECIPIENT
    if not text:
        raise BackupError(
            "NOVAMIND_BACKUP_RECIPIENT is not set: set it to the backup key's public key (age1…); "
            "README, 'Backups and restore drills', says how to create the key pair."
        )
    try:
        return pyrage.x25519.Recipient.from_str(text)
    except pyrage.RecipientError:
        raise BackupError(
            "NOVAMIND_BACKUP_RECIPIENT is not an age X25519 public key (it starts with 'age1')."
        ) from None


def identity() -> pyrage.x25519.Identity:
    """Return the backup identity (the private key) from NOVAMIND_BACKUP_IDENTITY_FILE."""
    path = settings.NOVAMIND_BACKUP_IDENTITY_FILE
    if not path:
        raise BackupError(
            "NOVAMIND_BACKUP_IDENTITY_FILE is not set: a drill decrypts the backup, so it needs the "
            "file holding the backup key's private key (AGE-SECRET-KEY-…)."
        )
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise BackupError(
            f"NOVAMIND_BACKUP_IDENTITY_FILE {path!r} cannot be read ({error.__class__.__name__})."
        ) from None
    # age-keygen's file: comment lines, then the key.
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    try:
        return pyrage.x25519.Identity.from_str(keys[0])
    except (IndexError, pyrage.IdentityError):
        raise BackupError(
            f"NOVAMIND_BACKUP_IDENTITY_FILE {path!r} holds no age X25519 identity (a line AGE-SECRET-KEY-…)."
        ) from None


def backup_directory(given: str | None = None) -> Path:
    """Return the directory backups go to (--dir, else NOVAMIND_BACKUP_DIR)."""
    chosen = given or settings.NOVAMIND_BACKUP_DIR
    if not chosen:
        raise BackupError("no backup directory: give --dir or set NOVAMIND_BACKUP_DIR.")
    return Path(chosen).expanduser()


def tool(name: str, using=connection) -> str:
    """Return the path of pg_dump or pg_restore of the server's major version (or newer)."""
    major = using.pg_version // 10000
    candidates = [Path(settings.NOVAMIND_PG_BIN_DIR) / name] if settings.NOVAMIND_PG_BIN_DIR else []
    candidates.append(Path(f"/usr/lib/postgresql/{major}/bin/{name}"))
    found = next((str(path) for path in candidates if path.is_file()), None) or shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL {major}'s client tools or set NOVAMIND_PG_BIN_DIR."
        )
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", version)
    if not match or int(match.group(1)) < major:
        raise BackupError(
            f"{found} is {version.strip() or 'unknown'}, older than the server (PostgreSQL {major}): "
            f"set NOVAMIND_PG_BIN_DIR to PostgreSQL {major}'s bin directory."
        )
    return found


def _libpq(settings_dict: dict, *, role: str | None) -> tuple[list[str], dict[str, str]]:
    """Return the connection options and environment for pg_dump / pg_restore (password never on argv)."""
    options = settings_dict.get("OPTIONS", {})
    arguments = ["--no-password"]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            arguments.append(f"{flag}={settings_dict[key]}")
    role = role or options.get("assume_role")
    if role:
        arguments.append(f"--role={role}")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if settings_dict.get("PASSWORD"):
        environment["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    for option, variable in (
        ("sslmode", "PGSSLMODE"),
        ("sslrootcert", "PGSSLROOTCERT"),
        ("sslcert", "PGSSLCERT"),
        ("sslkey", "PGSSLKEY"),
        ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ):
        if options.get(option) not in (None, ""):
            environment[variable] = str(options[option])
    environment["PGAPPNAME"] = "novamind-backup"
    return arguments, environment


@contextlib.contextmanager
def database(name: str | None = None, *, role: str | None = None) -> Iterator:
    """Yield a new, unpooled connection to the configured server (database `name`, default the configured one)."""
    settings_dict = {**connection.settings_dict, "NAME": name or connection.settings_dict["NAME"]}
    options = {key: value for key, value in settings_dict.get("OPTIONS", {}).items() if key != "pool"}
    if role:
        options["assume_role"] = role
    settings_dict["OPTIONS"] = options
    # A temporary alias of its own: django.contrib.postgres looks the new connection up by alias.
    alias = f"novamind_backup_{next(_aliases)}"
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    connections[alias] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        del connections[alias]


@contextlib.contextmanager
def as_default(wrapper) -> Iterator:
    """Make `wrapper` the `default` database of this thread inside the block.

    The verifications read through `django.db.connection` and the ORM's default alias; pointing
    the alias at another database runs them there unchanged.
    """
    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        connections["default"] = previous


# --- Manifest --------------------------------------------------------------------------------


def table_rows() -> dict[str, int]:
    """Return the number of rows of every table of the default database."""
    rows = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            rows[table] = cursor.fetchone()[0]
    return rows


def chain_states() -> list[dict]:
    """Return where every registered audit chain ends in the default database."""
    return [dataclasses.asdict(chain.state()) for chain in chains.all_chains()]


def newest_checkpoint(source: Path | None) -> dict | None:
    """Return the newest signed audit checkpoint of `source` (file and time), or None."""
    if source is None:
        return None
    found, _ = checkpoints.read_all(source)
    if not found:
        return None
    latest = max(found, key=lambda checkpoint: checkpoint.written_at)
    return {"file": latest.file, "written_at": _timestamp(latest.written_at)}


def _mac(body: dict) -> str:
    key = hmac.new(settings.AUDIT_LOG_KEY.encode("utf-8"), KEY_LABEL, hashlib.sha256).digest()
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def read_manifest(path: Path) -> dict:
    """Return the manifest in `path`, checking its signature."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        mac = document.pop("mac")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, AttributeError) as error:
        raise BackupError(f"the manifest {path.name} cannot be read ({error.__class__.__name__}).") from None
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(document)):
        raise BackupError(
            f"the manifest {path.name} is not signed with this deployment's AUDIT_LOG_KEY "
            f"(altered, or written by another deployment)."
        )
    if document.get("format") != FORMAT:
        raise BackupError(
            f"the manifest {path.name} has format {document.get('format')!r}; this version reads {FORMAT}."
        )
    return document


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- Backup ----------------------------------------------------------------------------------


class _HashingWriter:
    """A binary file that also hashes and counts what is written to it (age writes in chunks)."""

    def __init__(self, handle):
        self.handle, self.sha256, self.size = handle, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


@dataclasses.dataclass(frozen=True)
class Backup:
    """A backup written: its two files and its manifest."""

    path: Path
    manifest_path: Path
    manifest: dict


def create(*, actor, directory: Path, role: str | None = None, now: dt.datetime | None = None) -> Backup:
    """Write an encrypted backup of the configured database and its manifest into `directory`, as `actor`.

    Nothing is left behind on failure. The run is recorded in the access log in `actor`'s name
    (before the dump, so the backup holds its own record, and after, with the file's hash).
    """
    require_postgresql()
    to = recipient()
    pg_dump = tool("pg_dump")
    if not directory.is_dir():
        raise BackupError(f"the backup directory {str(directory)!r} does not exist.")
    created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    database_name = str(connection.settings_dict["NAME"])
    stem = f"novamind-{_safe(database_name)}-{created:%Y%m%dT%H%M%S%fZ}"
    path, manifest_path = directory / f"{stem}{DUMP_SUFFIX}", directory / f"{stem}{MANIFEST_SUFFIX}"
    checkpoint = newest_checkpoint(checkpoints.directory())
    access.record(
        user=actor,
        action=BACKUP_ACTION,
        category=CATEGORY,
        detail=f"started: pg_dump of every table into {path.name}, encrypted to the backup key; no content shown",
    )
    arguments, environment = _libpq(connection.settings_dict, role=role)
    started = time.monotonic()
    with database(role=role) as wrapper, as_default(wrapper), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version'), current_user")
            snapshot, server_version, dumped_as = cursor.fetchone()
        rows, states = table_rows(), chain_states()
        canary = encryption.canary_decrypts(connection)
        command = [pg_dump, "--format=custom", f"--snapshot={snapshot}", *arguments, f"--dbname={database_name}"]
        digest, size = _dump_encrypted(command, environment, path, to)
    body = {
        "format": FORMAT,
        "backup_file": path.name,
        "sha256": digest,
        "size": size,
        "created_at": _timestamp(created),
        "dump_seconds": round(time.monotonic() - started, 3),
        "server_version": server_version,
        "pg_dump": subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=False).stdout.strip(),
        "database": database_name,
        "dumped_as": dumped_as,
        "tables": rows,
        "audit": {"chains": states, "newest_checkpoint": checkpoint},
        "encryption": {
            "key_fingerprints": encryption.configured_fingerprints(),
            "canary_decrypts": canary,
        },
        "backup_encryption": {"tool": f"age (pyrage {_pyrage_version()}), X25519", "recipient": str(to)},
        "actor": actor.get_username(),
    }
    try:
        _write_new(manifest_path, json.dumps({**body, "mac": _mac(body)}, indent=2, sort_keys=True) + "\n")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    access.record(
        user=actor,
        action=BACKUP_ACTION,
        category=CATEGORY,
        detail=f"finished: {path.name}, {size} bytes, sha256 {digest[:16]}…, {len(rows)} tables; no content shown",
    )
    return Backup(path, manifest_path, body)


def _dump_encrypted(command: list[str], environment: dict, path: Path, to) -> tuple[str, int]:
    """Stream pg_dump's output through age into `path` (created new, mode 0600); return its SHA-256 and size."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle, tempfile.TemporaryFile() as errors:
            writer = _HashingWriter(handle)
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=environment)
            try:
                pyrage.encrypt_io(process.stdout, writer, [to])
            finally:
                process.stdout.close()
                returncode = process.wait()
            if returncode != 0:
                errors.seek(0)
                raise BackupError(
                    f"pg_dump failed (exit {returncode}): {errors.read().decode(errors='replace').strip()}"
                )
            handle.flush()
            os.fsync(handle.fileno())
        return writer.sha256.hexdigest(), writer.size
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _write_new(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def _pyrage_version() -> str:
    from importlib.metadata import version

    return version("pyrage")


def prune(directory: Path, *, database: str, keep: int) -> list[str]:
    """Remove all but the `keep` newest backups of `database` in `directory`; return the names removed.

    Only this database's pairs are touched (`novamind-<database>-<time>`), oldest first, each
    backup file with its manifest; other files in the directory are left alone.
    """
    if keep < 1:
        raise BackupError(f"--keep must be at least 1 (given {keep}): the backup just written is always kept.")
    stem = f"novamind-{_safe(database)}-"
    manifests = sorted(
        path
        for path in directory.glob(f"{stem}*{MANIFEST_SUFFIX}")
        if re.fullmatch(r"\d{8}T\d{12}Z", path.name[len(stem) : -len(MANIFEST_SUFFIX)])
    )
    removed = []
    for manifest in manifests[:-keep]:
        dump = manifest.with_name(manifest.name[: -len(MANIFEST_SUFFIX)] + DUMP_SUFFIX)
        dump.unlink(missing_ok=True)
        manifest.unlink()
        removed.append(dump.name)
    return removed


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)


# --- Finding and checking a backup -----------------------------------------------------------


def newest(directory: Path) -> Path:
    """Return the manifest of the newest backup in `directory` (names sort in time order)."""
    if not directory.is_dir():
        raise BackupError(f"the backup directory {str(directory)!r} does not exist.")
    manifests = sorted(directory.glob(f"novamind-*{MANIFEST_SUFFIX}"))
    if not manifests:
        raise BackupError(f"no backup in {str(directory)!r}: run backup_database first.")
    return manifests[-1]


def manifest_of(backup: Path) -> Path:
    """Return the manifest beside the backup file (or manifest) `backup`."""
    name = backup.name
    if name.endswith(MANIFEST_SUFFIX):
        return backup
    if not name.endswith(DUMP_SUFFIX):
        raise BackupError(f"{name!r} is not a NovaMind backup (…{DUMP_SUFFIX}) nor its manifest.")
    return backup.with_name(name[: -len(DUMP_SUFFIX)] + MANIFEST_SUFFIX)


def check_file(manifest_path: Path, manifest: dict) -> Path:
    """Return the backup file of `manifest` after checking its size and SHA-256 against it."""
    path = manifest_path.with_name(manifest["backup_file"])
    if not path.is_file():
        raise BackupError(f"the backup file {path.name} named by {manifest_path.name} is missing.")
    sha256 = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
    if path.stat().st_size != manifest["size"] or not hmac.compare_digest(sha256.hexdigest(), manifest["sha256"]):
        raise BackupError(
            f"the backup file {path.name} does not match its manifest (SHA-256 {sha256.hexdigest()[:16]}…, "
            f"expected {manifest['sha256'][:16]}…): it was altered or damaged; it is not restored."
        )
    return path


# --- The scratch database --------------------------------------------------------------------


@dataclasses.dataclass
class Restored:
    """A backup restored into a scratch database: its name and how long the restore took."""

    name: str
    seconds: float = 0.0
    dropped: bool = False


def scratch_name(now: dt.datetime | None = None) -> str:
    """Return a new scratch database name: the prefix, the time, and random digits."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{SCRATCH_PREFIX}{moment:%Y%m%d%H%M%S}_{os.urandom(3).hex()}"


@contextlib.contextmanager
def scratch_database(backup: Path, key, *, role: str | None = None) -> Iterator[Restored]:
    """Create a scratch database, restore `backup` into it (decrypting with `key`), yield it; always drop it.

    The scratch database is created by the connected role (or `role`, by SET ROLE), which needs
    CREATEDB; pg_restore gives every object to that role (--no-owner, --no-privileges).
    """
    require_postgresql()
    pg_restore = tool("pg_restore")
    restored = Restored(scratch_name())
    with database(role=role) as maintenance:
        quoted = maintenance.ops.quote_name(restored.name)
        try:
            with maintenance.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE {quoted} TEMPLATE template0 ENCODING 'UTF8'")
        except DatabaseError as error:
            raise BackupError(
                f"cannot create the scratch database {restored.name}: {str(error).strip()}. The drill runs as "
                f"a role that may create databases (CREATEDB), such as the owner role (--role)."
            ) from None
        try:
            started = time.monotonic()
            _restore(pg_restore, backup, key, restored.name, role=role)
            restored.seconds = time.monotonic() - started
            yield restored
        finally:
            _drop(maintenance, restored.name)
            restored.dropped = True


def _drop(maintenance, name: str) -> None:
    """Drop the scratch database `name`; raise BackupError, naming it, if it cannot be."""
    quoted = maintenance.ops.quote_name(name)
    try:
        # Without FORCE, PostgreSQL waits up to 5 s for the drill's own closed connections to end;
        # FORCE would try to signal them, which only a superuser or their role may.
        with maintenance.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
    except DatabaseError:
        try:
            with maintenance.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        except DatabaseError as error:
            raise BackupError(
                f"the scratch database {name} could not be dropped ({str(error).strip()}): drop it by hand."
            ) from None


def _restore(pg_restore: str, backup: Path, key, name: str, *, role: str | None) -> None:
    """Decrypt `backup` as a stream into pg_restore, into the database `name`; all or nothing."""
    arguments, environment = _libpq(connection.settings_dict, role=role)
    command = [
        pg_restore,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        *arguments,
        f"--dbname={name}",
    ]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=environment
        )
        problem = None
        try:
            with backup.open("rb") as source:
                pyrage.decrypt_io(source, process.stdin, [key])
        except pyrage.DecryptError as error:
            problem = (
                f"the backup does not decrypt with NOVAMIND_BACKUP_IDENTITY_FILE ({error}): the identity is not "
                f"the one the backup was encrypted to, or the file is damaged."
            )
        except BrokenPipeError:
            pass  # pg_restore stopped early; its own error says why
        finally:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            returncode = process.wait()
        if problem is not None:
            raise BackupError(problem)
        if returncode != 0:
            errors.seek(0)
            raise BackupError(
                f"pg_restore failed (exit {returncode}): {errors.read().decode(errors='replace').strip()[:2000]}"
            )


# --- The checks against a restored database ---------------------------------------------------


def compare_rows(manifest: dict) -> list[str]:
    """Return how the default database's rows per table differ from the manifest's."""
    expected, found = manifest["tables"], table_rows()
    problems = [
        f"table {table}: missing (the manifest counts {expected[table]} rows)"
        for table in expected
        if table not in found
    ]
    problems += [f"table {table}: not in the manifest" for table in found if table not in expected]
    problems += [
        f"table {table}: {found[table]} rows, the manifest counts {expected[table]}"
        for table in expected
        if table in found and found[table] != expected[table]
    ]
    return problems


def compare_chains(manifest: dict) -> list[str]:
    """Return how the default database's audit chains differ from where the manifest says they ended."""
    expected = {state["name"]: state for state in manifest["audit"]["chains"]}
    found = {state["name"]: state for state in chain_states()}
    problems = []
    for name in sorted(set(expected) | set(found)):
        if expected.get(name) != found.get(name):
            problems.append(
                f"audit chain {name}: ends at {_end(found.get(name))}, the manifest says {_end(expected.get(name))}"
            )
    return problems


def _end(state: dict | None) -> str:
    if state is None:
        return "nothing (no such chain)"
    return f"#{state['sequence']} ({state['count']} entries, digest {state['digest'][:16]}…)"


def verify_chains() -> tuple[int, list[str]]:
    """Walk every audit chain of the default database; return the entries checked and the problems."""
    checked, problems = 0, []
    for chain in chains.all_chains():
        result = chain.verify()
        checked += result.checked
        problems += [f"{chain.label}: {problem}" for problem in result.problems]
    return checked, problems


def witnesses(source: Path | None, manifest: dict) -> list[checkpoints.Checkpoint]:
    """Return the signed checkpoints in `source` written before the backup (the restored trail must satisfy them)."""
    if source is None:
        return []
    found, _ = checkpoints.read_all(source)
    created = dt.datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00"))
    return [checkpoint for checkpoint in found if checkpoint.written_at <= created]


def compare_with_checkpoints(found: list[checkpoints.Checkpoint]) -> list[str]:
    """Return what the default database contradicts in the checkpoints `found`."""
    states = {chain.name: chain.state() for chain in chains.all_chains()}
    problems, digests = [], {}
    for checkpoint in found:
        problems += checkpoints.compare(checkpoint, states, digests)
    return problems


def compare_live(manifest: dict) -> list[str]:
    """Return what the live (default) database contradicts in the backup's chain heads.

    The audit trail only grows: every chain of the live database must still hold, at the
    sequence where the backup saw it end, the link the backup saw. A chain trimmed or rewound
    since the backup, or cut and written again, is named — even where no checkpoint was written.
    """
    witnessed = checkpoints.Checkpoint(
        file=f"backup {manifest['backup_file']}",
        written_at=dt.datetime.fromisoformat(manifest["created_at"].replace("Z", "+00:00")),
        database=manifest["database"],
        chains=tuple(chains.ChainState(**state) for state in manifest["audit"]["chains"]),
    )
    return compare_with_checkpoints([witnessed])


def key_problems(manifest: dict) -> list[str]:
    """Return why the configured encryption keys cannot read the default database (empty: the canary decrypts)."""
    problems = []
    decrypts = encryption.canary_decrypts(connection)
    if decrypts is None:
        problems.append("the restored database holds none")
    elif not decrypts:
        problems.append("the configured FIELD_ENCRYPTION_KEY does not decrypt it")
    taken_under = manifest["encryption"]["key_fingerprints"]
    if problems and taken_under and taken_under[0] not in encryption.configured_fingerprints():
        problems.append(
            f"the backup was taken under the key with fingerprint {taken_under[0]}, which is not configured "
            f"(configured: {', '.join(encryption.configured_fingerprints())}): put it back in FIELD_ENCRYPTION_KEY"
        )
    return problems
