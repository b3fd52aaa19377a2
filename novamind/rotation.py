"""Encryption-key rotation: re-encrypt every stored value under the first FIELD_ENCRYPTION_KEY.

An operator puts a new key first in FIELD_ENCRYPTION_KEY and keeps the old one after it; from
then on new writes use the new key and old values still decrypt. `rotate()` then re-encrypts
every ciphertext column of every table — live tables, their history tables and the encryption
canary, found by looking for encrypted fields, so a new model is never forgotten — by
decrypting under an old key and encrypting under the new one, and `verify()` proves that the
new key alone decrypts everything, after which the old key may go.

A rotation is not a change of any record: the plaintext is the same, so no version is bumped,
no history row is written and `updated_at` does not move. That is why it works on the raw
stored tokens with SQL instead of loading and saving models. For the same reason the content
hashes of signed notes (taken over plaintext), the access log's HMAC chain (no encrypted
column, its own key) and the blind indexes (HMAC of plaintext under BLIND_INDEX_KEY) are
untouched and keep verifying.

Work goes table by table in primary-key order, a batch per transaction (keyset pagination,
so memory does not grow with the table). A value that already decrypts under the new key
alone is skipped, so an interrupted run is resumed by running it again; no progress table is
needed, and none could drift from the data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from novamind import access, audit, config, dbroles, encryption
from novamind.models import EncryptionCanary

CATEGORY = "all_encrypted_fields"
ROTATE_ACTION = "key rotation"
VERIFY_ACTION = "key verification"
FAILURES_KEPT = 100


class NothingToRotate(Exception):
    """FIELD_ENCRYPTION_KEY holds a single key: there is no old key to rotate away from."""


class UndecryptableValue(Exception):
    """A stored value decrypts under none of the configured keys."""

    def __init__(self, location: Location):
        self.location = location
        super().__init__(f"{location} does not decrypt under any key in FIELD_ENCRYPTION_KEY")


@dataclasses.dataclass(frozen=True)
class EncryptedTable:
    """A table that stores ciphertext, and which of its columns do."""

    model_label: str
    table: str
    pk: str
    columns: tuple[str, ...]

    def pk_value(self, raw):
        """Return the primary key as the model reads it (a UUID rather than SQLite's hex text)."""
        return apps.get_model(self.model_label)._meta.pk.to_python(raw)


@dataclasses.dataclass(frozen=True)
class Location:
    """Where a value lives: table, column and primary key — never the value."""

    table: str
    column: str
    pk_column: str
    pk: object

    def __str__(self):
        return f"{self.table}.{self.column} of the row with {self.pk_column} {self.pk}"


@dataclasses.dataclass
class TableCount:
    """What one pass found in one table."""

    table: str
    rows: int = 0
    done: int = 0
    values: int = 0
    rotated: int = 0
    current: int = 0
    changed: int = 0
    failed: int = 0


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far a pass has gone, for a progress display."""

    action: str
    table: str
    table_number: int
    tables: int
    done: int
    rows: int


@dataclasses.dataclass
class Outcome:
    """The counts of a rotation or a verification, per table and in total."""

    tables: list[TableCount]
    failures: list[Location] = dataclasses.field(default_factory=list)

    def total(self, name: str) -> int:
        """Return the sum of one count over every table."""
        return sum(getattr(count, name) for count in self.tables)

    @property
    def ok(self) -> bool:
        """Return whether every value decrypted under the new key alone (verification)."""
        return self.total("failed") == 0


def configured_keys() -> list[str]:
    """Return the distinct keys of FIELD_ENCRYPTION_KEY, the encrypting one first."""
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, (str, bytes)):
        keys = config.parse_key_list(keys.decode() if isinstance(keys, bytes) else keys)
    return list(dict.fromkeys(keys))


def encrypted_tables() -> list[EncryptedTable]:
    """Return every table with an encrypted column: live and history tables, the canary last.

    The canary goes last so that, after an interruption, a canary under the new key means the
    run had reached the end.
    """
    found: dict[str, EncryptedTable] = {}
    for model in apps.get_models():
        meta = model._meta
        # Proxies share their concrete model's table; unmanaged models map views or other
        # systems' tables, which are not NovaMind's to rewrite.
        if meta.proxy or not meta.managed or meta.swapped:
            continue
        columns = tuple(field.column for field in meta.local_concrete_fields if encryption.is_encrypted(field))
        if columns and meta.db_table not in found:
            found[meta.db_table] = EncryptedTable(meta.label, meta.db_table, meta.pk.column, columns)
    canary = EncryptionCanary._meta.db_table
    return sorted(found.values(), key=lambda table: (table.table == canary, table.table))


def rotate(*, actor, batch_size: int = 500, progress: Callable[[Progress], None] | None = None) -> Outcome:
    """Re-encrypt every value that is not yet under the first key, as `actor`.

    Raises NothingToRotate when only one key is configured, OwnerRightsRequired (before anything
    is written) when the connected role may not rewrite every table, and UndecryptableValue (naming
    table, column and primary key) when a value decrypts under no configured key; the batch
    in which that happens is rolled back, and batches before it keep their values, which
    decrypt under the new key.
    """
    actor = audit.require_actor(actor)
    keys = configured_keys()
    if len(keys) < 2:
        raise NothingToRotate(
            "FIELD_ENCRYPTION_KEY holds a single key, so there is nothing to rotate: every value "
            "is already encrypted under it, or under a key that is no longer configured."
        )
    new_key = Fernet(keys[0])
    old_keys = [Fernet(key) for key in keys[1:]]
    tables = encrypted_tables()
    # History tables are append-only for the application role: a rotation runs as the owner.
    dbroles.require_owner_rights(
        connection, command="rotate_encryption_keys", privilege="UPDATE", tables=[table.table for table in tables]
    )
    # Logged before the first value is read: an interrupted run is on record too.
    access.record(
        user=actor,
        action=ROTATE_ACTION,
        category=CATEGORY,
        detail=f"started: re-encrypting the encrypted columns of {len(tables)} tables under the "
        f"first of {len(keys)} keys; no content shown",
    )
    counts = []
    for number, table in enumerate(tables, start=1):
        count = TableCount(table.table, rows=_row_count(table))
        counts.append(count)
        after = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                rows = _fetch(cursor, table, after, batch_size)
                _rotate_rows(cursor, table, rows, new_key, old_keys, count)
            if not rows:
                break
            after = rows[-1][0]
            count.done += len(rows)
            if progress is not None:
                progress(Progress("Re-encrypting", table.table, number, len(tables), count.done, count.rows))
    outcome = Outcome(counts)
    access.record(
        user=actor,
        action=ROTATE_ACTION,
        category=CATEGORY,
        detail=f"finished: {outcome.total('rotated')} values re-encrypted, {outcome.total('current')} "
        f"already under the new key, in {len(tables)} tables; no content shown",
    )
    return outcome


def verify(*, actor, batch_size: int = 500, progress: Callable[[Progress], None] | None = None) -> Outcome:
    """Decrypt every stored value strictly under the first key alone, as `actor`.

    Failures are counted per table and the first FAILURES_KEPT are located (never shown).
    """
    actor = audit.require_actor(actor)
    new_key = Fernet(configured_keys()[0])
    tables = encrypted_tables()
    outcome = Outcome([])
    for number, table in enumerate(tables, start=1):
        count = TableCount(table.table, rows=_row_count(table))
        outcome.tables.append(count)
        after = None
        while True:
            with connection.cursor() as cursor:
                rows = _fetch(cursor, table, after, batch_size)
            for pk, *tokens in rows:
                for column, token in zip(table.columns, tokens, strict=True):
                    if token is None:
                        continue
                    count.values += 1
                    if _plaintext(new_key, token) is None:
                        count.failed += 1
                        if len(outcome.failures) < FAILURES_KEPT:
                            outcome.failures.append(Location(table.table, column, table.pk, table.pk_value(pk)))
            if not rows:
                break
            after = rows[-1][0]
            count.done += len(rows)
            if progress is not None:
                progress(Progress("Verifying", table.table, number, len(tables), count.done, count.rows))
    access.record(
        user=actor,
        action=VERIFY_ACTION,
        category=CATEGORY,
        detail=f"{outcome.total('values')} values in {len(tables)} tables decrypted under the first key "
        f"alone, {outcome.total('failed')} failed; no content shown",
    )
    return outcome


def _rotate_rows(cursor, table, rows, new_key: Fernet, old_keys: list[Fernet], count: TableCount) -> None:
    """Re-encrypt one batch of rows under `new_key`, with one statement per set of changed columns."""
    updates: dict[tuple[str, ...], list[list]] = {}
    for pk, *tokens in rows:
        changes = {}
        for column, token in zip(table.columns, tokens, strict=True):
            if token is None:
                continue
            count.values += 1
            new_token = _reencrypted(token, new_key, old_keys)
            if new_token is None:
                count.current += 1
            elif new_token is UNDECRYPTABLE:
                raise UndecryptableValue(Location(table.table, column, table.pk, table.pk_value(pk)))
            else:
                changes[column] = (token, new_token)
        if changes:
            updates.setdefault(tuple(changes), []).append(
                [*(new for _, new in changes.values()), pk, *(old for old, _ in changes.values())]
            )
    # A raw UPDATE of the ciphertext columns alone. Model.save() would bump the version, write a
    # history row and move updated_at; the audited QuerySet.update() refuses to run, and even
    # _base_manager.update() would pass each token through the field's get_db_prep_save and
    # encrypt the ciphertext a second time. The WHERE clause repeats the tokens that were read,
    # so a row someone saved meanwhile is left alone (the application writes under the new key,
    # and the verification that follows checks it) rather than overwritten with stale content.
    # executemany sends a batch's rows without a round trip each (psycopg's pipeline mode), and
    # its rowcount is the total: the rows it did not update were changed by someone else.
    quote = connection.ops.quote_name
    for columns, parameters in updates.items():
        assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
        unchanged = " AND ".join(f"{quote(column)} = %s" for column in columns)
        cursor.executemany(
            f"UPDATE {quote(table.table)} SET {assignments} WHERE {quote(table.pk)} = %s AND {unchanged}",
            parameters,
        )
        count.rotated += cursor.rowcount * len(columns)
        count.changed += (len(parameters) - cursor.rowcount) * len(columns)


UNDECRYPTABLE = object()


def _reencrypted(token, new_key: Fernet, old_keys: list[Fernet]):
    """Return `token` re-encrypted under `new_key`; None if it is already; UNDECRYPTABLE if no key opens it.

    The old keys are tried first: before a rotation every value is under one of them, so a
    value costs one decryption and one encryption, the least a rotation can do (only a
    resumed run pays a failed attempt per old key for what it already rotated).
    """
    raw = _token_bytes(token)
    for old_key in old_keys:
        try:
            plaintext = old_key.decrypt(raw)
        except InvalidToken:
            continue
        return new_key.encrypt(plaintext).decode("ascii")
    return None if _plaintext(new_key, raw) is not None else UNDECRYPTABLE


def _fetch(cursor, table: EncryptedTable, after, limit: int) -> list[tuple]:
    """Return the next `limit` rows (primary key, then the raw ciphertext columns) after `after`."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in (table.pk, *table.columns))
    where, params = ("", []) if after is None else (f" WHERE {quote(table.pk)} > %s", [after])
    cursor.execute(
        f"SELECT {columns} FROM {quote(table.table)}{where} ORDER BY {quote(table.pk)} LIMIT %s",
        [*params, limit],
    )
    return cursor.fetchall()


def _row_count(table: EncryptedTable) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table.table)}")
        return cursor.fetchone()[0]


def _token_bytes(token) -> bytes:
    if isinstance(token, memoryview):
        token = token.tobytes()
    return token if isinstance(token, bytes) else token.encode("ascii")


def _plaintext(fernet: Fernet, token) -> str | None:
    """Return the plaintext of `token` under `fernet`, or None when it does not decrypt strictly."""
    try:
        return fernet.decrypt(_token_bytes(token)).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        return None
