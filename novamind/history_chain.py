"""The change history is tamper-evident: every history row is sealed into its table's HMAC chain.

Each history table (one per audited model) is a chain of its own. When django-simple-history
is about to insert a history row, `seal_instance` locks the table's head (`HistoryChainHead`),
gives the row the next sequence, and stores in it an HMAC (AUDIT_LOG_KEY) over the table name,
that sequence, the previous link's digest and the row's content — in the transaction of the
change it records, so a change and its sealed history row commit together or not at all.

What a digest covers is the row's *values*, not its bytes: encrypted fields are covered by
their plaintext (the HMAC reveals nothing without the key), so re-encrypting under a new key
changes no digest, while swapping ciphertext between rows or columns is detected. Values that
are NULL are left out, so a column added later as NULL for the rows already sealed does not
break them; a migration that adds a column to an audited model must leave the past rows of its
history table NULL in it.

`HistoryChain.verify` walks a table in sequence order and names every row that was altered,
deleted, inserted without a seal, or moved. A retention purge deletes history rows on purpose:
it first leaves an erasure receipt per row (`HistoryErasure`, itself keyed by HMAC), which
stands in for the row in the chain. Rows removed from the end are found by the head row and,
since the head is in the same database, by the checkpoints `verify_audit` keeps outside it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from novamind import chains, encryption
from novamind.models import HistoryChainHead, HistoryErasure, SealedHistory

SEAL_FIELDS = frozenset({"history_id", "history_sequence", "history_digest"})
# The pre-create signal's handler id (apps.py connects it; the benchmark's control disconnects it).
SIGNAL_UID = "novamind.seal_history"
BATCH = 2000


def _mac(document: dict) -> str:
    """Return the HMAC (AUDIT_LOG_KEY) of `document` in its one canonical JSON form."""
    message = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hmac.new(settings.AUDIT_LOG_KEY.encode("utf-8"), message, hashlib.sha256).hexdigest()


@cache
def covered_fields(model) -> tuple[models.Field, ...]:
    """Return the fields of a history model that its seal covers: every column but the seal's own."""
    return tuple(field for field in model._meta.concrete_fields if field.name not in SEAL_FIELDS)


def plain(field: models.Field, value):
    """Return `value` of `field` in the one form it has both before saving and after reading back."""
    if value is None:
        return None
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    if isinstance(field, models.DateTimeField):
        value = field.to_python(value)
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if isinstance(field, models.DateField):
        value = field.to_python(value)
        return value.isoformat()
    if isinstance(field, models.DecimalField):
        value = field.to_python(value)
        return f"{value:.{field.decimal_places}f}" if isinstance(value, Decimal) else str(value)
    if isinstance(field, models.BooleanField):
        return bool(value)
    if isinstance(field, models.IntegerField | models.AutoField):
        return int(value)
    if isinstance(field, models.UUIDField):
        return str(field.to_python(value))
    return str(value)


def row_values(model, instance) -> dict:
    """Return the covered values of a history row (an instance of `model`), by column."""
    return {field.attname: getattr(instance, field.attname) for field in covered_fields(model)}


def compute_digest(model, sequence: int, previous: str, values: Mapping) -> str:
    """Return the HMAC of one link: the table, its place, the link before it and its values."""
    return _digest(model._meta.db_table, covered_fields(model), sequence, previous, values.get)


def _digest(table: str, fields, sequence: int, previous: str, value_of) -> str:
    content = {}
    for field in fields:
        value = plain(field, value_of(field.attname))
        if value is not None:
            content[field.attname] = value
    return _mac({"table": table, "sequence": sequence, "previous": previous, "row": content})


def _locked_head(model) -> HistoryChainHead:
    table = model._meta.db_table
    heads = HistoryChainHead.objects.select_for_update()
    try:
        return heads.get(table=table)
    except HistoryChainHead.DoesNotExist:
        # A new table's first row (two writers may race to create the head; one wins), or a head
        # row someone deleted: it starts again from the table's last sealed row, so writes go on
        # (the chain and the checkpoints still show whatever else was removed).
        last = (
            model._base_manager.filter(history_sequence__isnull=False)
            .order_by("-history_sequence")
            .values_list("history_sequence", "history_digest")
            .first()
        )
        sequence, digest = last or (0, "")
        head = HistoryChainHead(table=table, sequence=sequence, digest=digest)
        HistoryChainHead.objects.bulk_create([head], ignore_conflicts=True)
        return heads.get(table=table)


def seal(model, rows: Iterable[Mapping]) -> list[tuple[int, str]]:
    """Give each row's values (in order) the next sequence of `model`'s chain and its digest.

    Must run in the transaction that inserts the rows: the head stays locked until it ends, so
    concurrent writers of the same table are sealed one after the other.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("History rows are sealed inside the transaction that writes them.")
    head = _locked_head(model)
    sequence, digest, seals = head.sequence, head.digest, []
    for values in rows:
        sequence += 1
        digest = compute_digest(model, sequence, digest, values)
        seals.append((sequence, digest))
    if seals:
        HistoryChainHead.objects.filter(pk=head.pk).update(sequence=sequence, digest=digest)
    return seals


def seal_instance(sender, history_instance, **kwargs) -> None:
    """Seal a history row django-simple-history is about to insert (its pre-create signal)."""
    if not isinstance(history_instance, SealedHistory):
        return
    [(history_instance.history_sequence, history_instance.history_digest)] = seal(
        sender, [row_values(sender, history_instance)]
    )


def erasure_mac(receipt: HistoryErasure) -> str:
    """Return the HMAC that shows an erasure receipt was written by the application."""
    return _mac(
        {
            "erasure": receipt.table,
            "sequence": receipt.sequence,
            "digest": receipt.digest,
            "erased_at": plain(HistoryErasure._meta.get_field("erased_at"), receipt.erased_at),
            "detail": receipt.detail,
        }
    )


def record_erasure(history_rows: models.QuerySet, *, detail: str) -> int:
    """Leave an erasure receipt for each sealed row of `history_rows`, before they are deleted.

    A purge that ends the retention of a record calls this in its transaction; the receipts
    keep the chain whole (`verify`) without keeping any of the erased content. `detail` must not
    hold PHI. Returns how many receipts were written.
    """
    table = history_rows.model._meta.db_table
    now = timezone.now()
    receipts = []
    seals = (
        history_rows.order_by().filter(history_sequence__isnull=False).values_list("history_sequence", "history_digest")
    )
    for sequence, digest in seals.iterator(chunk_size=BATCH):
        receipt = HistoryErasure(table=table, sequence=sequence, digest=digest, erased_at=now, detail=detail[:255])
        receipt.mac = erasure_mac(receipt)
        receipts.append(receipt)
    HistoryErasure.objects.bulk_create(receipts, batch_size=BATCH)
    return len(receipts)


def sealed_models() -> list[type[models.Model]]:
    """Return every history model whose rows are sealed."""
    from django.apps import apps

    return [model for model in apps.get_models() if issubclass(model, SealedHistory)]


class HistoryChain:
    """One history table as one of the audit trail's chains (see novamind.chains)."""

    def __init__(self, model):
        self.model = model
        self.name = model._meta.db_table
        self.label = f"change history of {model.instance_type._meta.verbose_name_plural} ({self.name})"

    def _rows(self):
        return self.model._base_manager.order_by()

    def _receipts(self):
        return HistoryErasure.objects.filter(table=self.name)

    def state(self) -> chains.ChainState:
        """Return the chain's last link, as its rows and erasure receipts say."""
        candidates = [
            self._rows()
            .filter(history_sequence__isnull=False)
            .order_by("-history_sequence")
            .values_list("history_sequence", "history_digest")
            .first(),
            self._receipts().order_by("-sequence").values_list("sequence", "digest").first(),
        ]
        sequence, digest = max((c for c in candidates if c), default=(0, ""))
        count = self._rows().filter(history_sequence__isnull=False).count() + self._receipts().count()
        return chains.ChainState(self.name, sequence, digest, count)

    def retired_through(self) -> int:
        """Return 0: an erased row leaves a receipt per link, so every link can still be looked up."""
        return 0

    def digest_at(self, sequence: int) -> str | None:
        """Return the digest of link #`sequence`: its row's, or its erasure receipt's."""
        digest = self._rows().filter(history_sequence=sequence).values_list("history_digest", flat=True).first()
        if digest is None:
            digest = self._receipts().filter(sequence=sequence).values_list("digest", flat=True).first()
        return digest

    def _sealed_rows(self):
        """Yield (history id, sequence, digest, values) of each sealed row in sequence order.

        Values are read raw and decrypted here, field by field, so one value that does not
        decrypt (ciphertext altered in place) is reported for its row (values None) instead of
        ending the walk. A wrong key never gets this far: the system check novamind.E010 stops
        every command first.
        """
        fields = covered_fields(self.model)
        names = ["history_id", "history_sequence", "history_digest", *(field.attname for field in fields)]
        query = self._rows().filter(history_sequence__isnull=False).order_by("history_sequence").values_list(*names)
        sql, params = query.query.sql_with_params()
        with connection.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(BATCH):
                for history_id, sequence, digest, *raw in batch:
                    try:
                        values = {
                            field.attname: field.from_db_value(value, None, connection)
                            if encryption.is_encrypted(field)
                            else value
                            for field, value in zip(fields, raw, strict=True)
                        }
                    except encryption.DecryptionError:
                        values = None
                    yield history_id, sequence, digest, values

    def verify(self) -> chains.Verification:
        """Walk the table in sequence order and report every row that breaks the chain."""
        problems: list[str] = []
        unsealed = self._rows().filter(history_sequence__isnull=True).values_list("history_id", flat=True)
        for history_id in unsealed.order_by("history_id").iterator(chunk_size=BATCH):
            problems.append(f"history row {history_id} has no seal (inserted outside the application)")
        receipts = {}
        for receipt in self._receipts().iterator(chunk_size=BATCH):
            if not hmac.compare_digest(receipt.mac, erasure_mac(receipt)):
                problems.append(f"the erasure receipt of #{receipt.sequence} is forged or altered")
            else:
                receipts[receipt.sequence] = receipt
        expected, previous, checked = 1, "", 0

        def through_receipts(upto: int) -> None:
            nonlocal expected, previous
            while expected < upto:
                if expected in receipts:
                    previous = receipts[expected].digest
                    expected += 1
                    continue
                gap_end = expected
                while gap_end + 1 < upto and gap_end + 1 not in receipts:
                    gap_end += 1
                span = f"#{expected}" + (f"–#{gap_end}" if gap_end > expected else "")
                problems.append(f"history row {span} is missing (deleted)")
                previous, expected = None, gap_end + 1

        for history_id, sequence, stored, values in self._sealed_rows():
            checked += 1
            if sequence < expected:
                problems.append(f"history row {history_id} repeats #{sequence} (inserted)")
                continue
            through_receipts(sequence)
            if sequence in receipts:
                problems.append(f"history row #{sequence} is present although its erasure was recorded")
            if values is None:
                problems.append(f"history row {history_id} (#{sequence}) holds a value that does not decrypt (altered)")
            # After a gap the link before is unknown: the row's own digest carries the chain on.
            elif previous is not None:
                recomputed = compute_digest(self.model, sequence, previous, values)
                if not hmac.compare_digest(stored, recomputed):
                    problems.append(
                        f"history row {history_id} (#{sequence}) was altered or moved "
                        f"(its digest does not match its content and place)"
                    )
            previous, expected = stored, sequence + 1
        if receipts:
            through_receipts(max(receipts) + 1)
        head = HistoryChainHead.objects.filter(table=self.name).first()
        last = expected - 1
        if head is not None and (head.sequence != last or (previous is not None and head.digest != previous)):
            problems.append(
                f"the chain ends at #{last} but rows up to #{head.sequence} were written "
                f"(rows removed from the end, or the head was rewound)"
            )
        return chains.Verification(checked=checked, problems=problems)


def register_chains() -> None:
    """Register the chain of every sealed history table (called when the kernel app is ready)."""
    for model in sealed_models():
        chains.register(HistoryChain(model))


def seal_existing(apps, schema_editor, app_label: str) -> None:
    """Seal, in order of writing, the history rows of `app_label` that carry no seal (a migration).

    Rows are sealed in the order they were written (history date, then id), after any row
    already sealed; the head is moved to the last one.
    """
    Head = apps.get_model("novamind", "HistoryChainHead")
    for model in apps.get_app_config(app_label).get_models():
        if "history_digest" not in {field.name for field in model._meta.concrete_fields}:
            continue
        table = model._meta.db_table
        head, _ = Head.objects.get_or_create(table=table)
        sequence, digest = head.sequence, head.digest
        fields = covered_fields(model)
        rows = model._base_manager.filter(history_sequence__isnull=True).order_by("history_date", "history_id")
        batch = []
        for row in rows.iterator(chunk_size=BATCH):
            sequence += 1
            digest = _digest(table, fields, sequence, digest, lambda name, row=row: getattr(row, name))
            row.history_sequence, row.history_digest = sequence, digest
            batch.append(row)
            if len(batch) >= BATCH:
                model._base_manager.bulk_update(batch, ["history_sequence", "history_digest"])
                batch = []
        if batch:
            model._base_manager.bulk_update(batch, ["history_sequence", "history_digest"])
        Head.objects.filter(pk=head.pk).update(sequence=sequence, digest=digest)
