"""Import patients from a legacy system's CSV: every row checked by the domain rules, the valid
ones written in batches with encryption, blind indexes, new MRNs and attributed history rows.

The file is streamed: it is read line by line and only the current batch (and at most
`ERRORS_KEPT` small error records) is held, so memory does not grow with the file. Each
physical line is decoded on its own, which is exact for UTF-8 (a newline byte never occurs
inside a multi-byte character), so an undecodable byte is reported with its own line number.

The patient rows and their creation history rows are written in bulk by
`services.patient_register_batch` (one service call per batch), attributed to the actor. The whole
run is one transaction: an all-or-nothing run that meets an invalid row, a run
that fails half-way (a broken file, an interruption, a database error) and a dry run leave
the database as it was. The access-log entry of the duplicate check is written in that
transaction when patients are written (both commit or neither does); a run that writes no
patient (a dry run, a refused run) still told the operator who is registered, so its entry is
written on its own after the rollback. The CSV layer only turns text into domain values (dates, choices);
every rule about a patient is `domain.Patient.validated`, the same one the admin and the
repository apply.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import enum
import re
from collections.abc import Callable, Iterator

from django import db
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from novamind import access, audit
from novamind.domain import Collector, RuleViolation
from patients import domain, models, policy, services

REQUIRED_COLUMNS = ("legal_first_name", "legal_last_name", "date_of_birth")
# The domain Patient's fields, under the names the domain's errors and the model use: the
# address and the emergency contact are flattened with their prefix. Identity (id, mrn) and
# audit data are NovaMind's own and never come from a file.
COLUMNS = (
    *REQUIRED_COLUMNS,
    "preferred_name",
    "pronouns",
    "sex_assigned_at_birth",
    "gender_identity",
    "phone",
    "email",
    "address_line1",
    "address_line2",
    "address_city",
    "address_region",
    "address_postal_code",
    "address_country",
    "emergency_contact_name",
    "emergency_contact_relation",
    "emergency_contact_phone",
    "status",
)
ROW = "row"  # the "field" of an error about the row as a whole
DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 5000  # also keeps every IN (…) list below SQLite's parameter limit
ERRORS_KEPT = 1000
MAX_LINE_BYTES = 1 << 20
CHANGE_REASON = "Imported from CSV"
ACCESS_ACTION = "import duplicate check"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class ImportFileError(Exception):
    """The file cannot be read in the import format; nothing was imported."""


@dataclasses.dataclass(frozen=True)
class RowError:
    """One rule broken by one line of the file: where and which rule, never the value."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far an import has got, after a batch."""

    line: int
    rows: int
    valid: int
    invalid: int
    bytes_read: int
    total_bytes: int | None

    @property
    def percent(self) -> int | None:
        """Return the share of the file read, or None when its size is unknown."""
        return min(100, self.bytes_read * 100 // self.total_bytes) if self.total_bytes else None


@dataclasses.dataclass
class Outcome:
    """What an import found and did."""

    dry_run: bool
    skip_invalid: bool
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    duplicates_checked: bool = False
    errors: list[RowError] = dataclasses.field(default_factory=list)
    error_count: int = 0

    @property
    def refused(self) -> bool:
        """Return whether the import as asked for cannot go ahead (all or nothing, and a row is invalid)."""
        return bool(self.invalid) and not self.skip_invalid

    def add_errors(self, line: int, errors: dict[str, list[str]], values: dict[str, str]) -> None:
        """Count one invalid row and keep its errors, up to ERRORS_KEPT, with any value scrubbed out."""
        self.invalid += 1
        for field, messages in errors.items():
            for message in messages:
                self.error_count += 1
                if len(self.errors) < ERRORS_KEPT:
                    name = ROW if field == RuleViolation.NON_FIELD else field
                    self.errors.append(RowError(line, name, scrub(message, values.get(field, ""))))


def format_description() -> str:
    """Return the file format, for --help and the README."""
    sexes = ", ".join(s.value for s in domain.SexAssignedAtBirth)
    statuses = ", ".join(s.value for s in domain.PatientStatus)
    return (
        "The file: UTF-8 (a byte-order mark is accepted), comma-separated, one patient per line, "
        "quoted as spreadsheets write CSV (RFC 4180: a value holding a comma, a quote or a line break "
        "is put in double quotes). Line 1 is the header naming the columns, in any order (case and "
        "surrounding spaces ignored):\n"
        "  legal_first_name, legal_last_name       required\n"
        "  date_of_birth                           required; YYYY-MM-DD, e.g. 1984-03-27\n"
        "  preferred_name, pronouns                text\n"
        f"  sex_assigned_at_birth                   {sexes} (empty: unknown)\n"
        "  gender_identity                         text, in the patient's own words\n"
        "  phone, emergency_contact_phone          as dialled in NOVAMIND_DEFAULT_PHONE_REGION, or +country code\n"
        "  email                                   an e-mail address\n"
        "  address_line1, address_line2,           text\n"
        "  address_city, address_region,\n"
        "  address_postal_code, address_country\n"
        "  emergency_contact_name,                 text; a contact needs emergency_contact_phone\n"
        "  emergency_contact_relation\n"
        f"  status                                  {statuses} (empty: active)\n"
        "Every column but the first three may be left out; an empty cell means none (or the default). "
        "An unknown or repeated column is refused. The file holds no MRN: each patient gets a new one. "
        "Length limits and the other rules are those of the admin's patient form."
    )


def scrub(message: str, value: str) -> str:
    """Return `message` with every part of `value` (the value at fault) blanked out.

    The domain's messages name the rule, but a library's detail can quote part of a value (an
    e-mail's domain name in an IDNA error, say), and an error report must never carry PHI.
    Parts shorter than three characters identify nobody and are left alone.
    """
    value = value.strip()
    fragments = {value, *re.split(r"[\s@.,;:/()]+", value)}
    for fragment in sorted((f for f in fragments if len(f) >= 3), key=len, reverse=True):
        message = re.sub(rf"(?<!\w){re.escape(fragment)}(?!\w)", "…", message, flags=re.IGNORECASE)
    return message


def to_patient(values: dict[str, str], *, today: dt.date, phone_region: str) -> domain.Patient:
    """Return the validated, normalised patient of one row's values, or raise RuleViolation."""

    def text(name: str) -> str:
        return values.get(name) or ""  # a column left out of the file is an empty cell

    unreadable = Collector()
    patient = domain.Patient(
        legal_first_name=text("legal_first_name"),
        legal_last_name=text("legal_last_name"),
        date_of_birth=_date(unreadable, "date_of_birth", text("date_of_birth")),
        preferred_name=text("preferred_name"),
        pronouns=text("pronouns"),
        sex_assigned_at_birth=_choice(
            unreadable,
            "sex_assigned_at_birth",
            text("sex_assigned_at_birth"),
            domain.SexAssignedAtBirth,
            domain.SexAssignedAtBirth.UNKNOWN,
        ),
        gender_identity=text("gender_identity"),
        phone=text("phone"),
        email=text("email"),
        address=domain.Address(
            **{part: text(f"address_{part}") for part in ("line1", "line2", "city", "region", "postal_code", "country")}
        ),
        emergency_contact=domain.EmergencyContact(
            name=text("emergency_contact_name"),
            relation=text("emergency_contact_relation"),
            phone=text("emergency_contact_phone"),
        ),
        status=_choice(unreadable, "status", text("status"), domain.PatientStatus, domain.PatientStatus.ACTIVE),
    )
    try:
        clean = patient.validated(today=today, phone_region=phone_region)
    except RuleViolation as violation:
        # A value that could not be read is reported as such, not as the rule's "required".
        raise RuleViolation({**violation.errors, **unreadable.errors}) from None
    unreadable.raise_if_any()
    return clean


def _date(errors: Collector, field: str, value: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    if not ISO_DATE.fullmatch(value):
        errors.add(field, "Write the date as YYYY-MM-DD (year, month, day).")
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        errors.add(field, "This is not a date in the calendar (check the month and the day).")
        return None


def _choice(errors: Collector, field: str, value: str, choices: type[enum.Enum], default):
    value = value.strip().lower()
    if not value:
        return default
    try:
        return choices(value)
    except ValueError:
        allowed = ", ".join(choice.value for choice in choices)
        errors.add(field, f"Use one of {allowed} (or leave it empty for {default.value}).")
        return default


class _Lines:
    """The file's physical lines as text, decoded one at a time, counting the bytes read."""

    def __init__(self, handle, total_bytes: int | None):
        self.handle = handle
        self.total_bytes = total_bytes
        self.bytes_read = 0
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        while raw := self.handle.readline(MAX_LINE_BYTES + 1):
            self.number += 1
            self.bytes_read += len(raw)
            if self.number == 1:
                if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                    raise ImportFileError(
                        "The file is UTF-16 (as some spreadsheets save 'Unicode text'); save it as "
                        "CSV UTF-8 and run the import again."
                    )
                raw = raw.removeprefix(codecs.BOM_UTF8)
            if len(raw) > MAX_LINE_BYTES:
                raise ImportFileError(
                    f"Line {self.number} is longer than {MAX_LINE_BYTES:,} bytes: this is not a patient "
                    f"CSV (or its line breaks are not LF or CRLF)."
                )
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ImportFileError(
                    f"Line {self.number} is not valid UTF-8 (byte 0x{raw[error.start]:02x} at byte "
                    f"{error.start + 1} of the line): the file must be saved as UTF-8, e.g. "
                    f"'CSV UTF-8' in a spreadsheet, or converted with iconv -f <its encoding> -t UTF-8."
                ) from None


def read_header(cells: list[str] | None) -> list[str]:
    """Return the column names of the header line, or raise ImportFileError saying what is wrong."""
    if cells is None:
        raise ImportFileError(f"The file is empty: line 1 must be the header ({', '.join(COLUMNS)}).")
    names = [cell.strip().lower() for cell in cells]
    if not set(names) & set(COLUMNS):
        # Likely a file without a header: its first line is a patient, so quote none of it.
        raise ImportFileError(
            f"Line 1 is not the header: it names none of the columns. The file must start with a "
            f"header line naming its columns, at least {', '.join(REQUIRED_COLUMNS)}; the columns "
            f"are {', '.join(COLUMNS)}."
        )
    problems = []
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unknown = [
        f"{name[:40]!r} (column {number})" if name else f"an unnamed column (column {number})"
        for number, name in enumerate(names, start=1)
        if name not in COLUMNS
    ]
    if unknown:
        problems.append(f"unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    repeated = sorted({name for name in names if name in COLUMNS and names.count(name) > 1})
    if repeated:
        problems.append(f"repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    if problems:
        raise ImportFileError(
            f"The header (line 1) is wrong: {'; '.join(problems)}. The columns are {', '.join(COLUMNS)}; "
            f"the first three are required, the others optional, in any order."
        )
    return names


def read_records(lines: _Lines) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number where the record starts, cells) for every record after the header.

    Blank lines are skipped. Raises ImportFileError for a line the CSV reader cannot parse.
    """
    reader = csv.reader(lines, strict=True)
    try:
        yield 1, next(reader, None)
        previous = reader.line_num
        for cells in reader:
            start, previous = previous + 1, reader.line_num
            if any(cell.strip() for cell in cells):
                yield start, cells
    except csv.Error as error:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV ({error}).") from None


def import_patients(
    handle,
    *,
    actor,
    dry_run: bool = False,
    skip_invalid: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    allow_duplicates: bool = False,
    total_bytes: int | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> Outcome:
    """Import the patients of the CSV opened (binary) as `handle`, as `actor`.

    Every row is validated. All or nothing unless `skip_invalid`: one invalid row and nothing
    is written. `dry_run` validates and writes nothing. Unless `allow_duplicates`, a row with
    the legal name and date of birth of a registered patient, or of an earlier row, is invalid.
    Raises ImportFileError (nothing written) when the file is not a readable import file.
    """
    actor = audit.require_actor(actor)
    # Even a dry run tells who is already registered: it needs the permission to register.
    policy.require(actor, services.REGISTER)
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"The batch size must be 1 to {MAX_BATCH_SIZE}.")
    run = _Run(
        actor=actor, outcome=Outcome(dry_run=dry_run, skip_invalid=skip_invalid), allow_duplicates=allow_duplicates
    )
    lines = _Lines(handle, total_bytes)
    records = read_records(lines)
    _, header_cells = next(records)
    columns = read_header(header_cells)
    with transaction.atomic():
        batch: list[tuple[int, domain.Patient]] = []
        for line, cells in records:
            run.outcome.rows += 1
            patient = run.read(line, columns, cells)
            if patient is not None:
                batch.append((line, patient))
            if len(batch) >= batch_size:
                run.flush(batch)
                batch = []
                if progress is not None:
                    progress(run.progress(line, lines))
        if batch or not run.outcome.rows:
            run.flush(batch)
            if progress is not None:
                progress(run.progress(lines.number, lines))
        if dry_run or run.outcome.refused:
            transaction.set_rollback(True)
        else:
            run.outcome.imported = run.written
            # In the import's transaction: the patients and the entry commit together or not at all.
            run.record_duplicate_check()
    if dry_run or run.outcome.refused:
        # Nothing was written, yet the report tells who is registered: the check is recorded on its own.
        run.record_duplicate_check()
    return run.outcome


class _Run:
    """The state of one import between batches: counts, the first errors, the time stamp."""

    def __init__(self, *, actor, outcome: Outcome, allow_duplicates: bool):
        self.actor = actor
        self.outcome = outcome
        self.check_duplicates = not allow_duplicates
        self.today = timezone.localdate()
        self.phone_region = settings.NOVAMIND_DEFAULT_PHONE_REGION
        # One time stamp for the whole import: created_at, updated_at and the history date, and
        # how a duplicate from an earlier batch of this file is told from an older patient.
        self.now = timezone.now()
        self.written = 0
        self.duplicates = 0

    def read(self, line: int, columns: list[str], cells: list[str]) -> domain.Patient | None:
        """Return the valid patient of one record, or None after recording its errors."""
        values = dict(zip(columns, cells, strict=False))
        if len(cells) != len(columns):
            self.outcome.add_errors(
                line,
                {
                    ROW: [
                        f"It has {len(cells)} values, the header {len(columns)} columns (check the quoting and the commas)."
                    ]
                },
                values,
            )
            return None
        try:
            return to_patient(values, today=self.today, phone_region=self.phone_region)
        except RuleViolation as violation:
            self.outcome.add_errors(line, violation.errors, values)
            return None

    @property
    def writing(self) -> bool:
        """Return whether valid rows are being written (not a dry run, and not already refused)."""
        return not self.outcome.dry_run and not self.outcome.refused

    def flush(self, batch: list[tuple[int, domain.Patient]]) -> None:
        """Check one batch for duplicates and write its valid patients."""
        db.reset_queries()  # with DEBUG on, Django keeps every statement: keep one batch's worth
        if self.check_duplicates and batch:
            batch = self._without_duplicates(batch)
        self.outcome.valid += len(batch)
        if not self.writing or not batch:
            return
        self.written += services.patient_register_batch(
            patients=[patient for _, patient in batch], actor=self.actor, now=self.now, reason=CHANGE_REASON
        )

    def _without_duplicates(self, batch):
        self.outcome.duplicates_checked = True
        keys = [
            (
                models.name_index(f"{p.legal_first_name} {p.legal_last_name}"),
                models.date_of_birth_index(p.date_of_birth),
            )
            for _, p in batch
        ]
        registered = {
            (name, birth): created_at
            for name, birth, created_at in models.Patient.objects.filter(
                full_name_index__in={name for name, _ in keys}
            ).values_list("full_name_index", "date_of_birth_index", "created_at")
        }
        first_line, kept = {}, []
        for (line, patient), key in zip(batch, keys, strict=True):
            if key in registered:
                earlier = registered[key] == self.now
                message = (
                    "The same legal name and date of birth as an earlier line of this file."
                    if earlier
                    else "A patient with this legal name and date of birth is already registered."
                )
            elif key in first_line:
                message = f"The same legal name and date of birth as line {first_line[key]}."
            else:
                first_line[key] = line
                kept.append((line, patient))
                continue
            self.duplicates += 1
            self.outcome.add_errors(
                line, {ROW: [message + " Pass --allow-duplicates if they are different people."]}, {}
            )
        return kept

    def record_duplicate_check(self) -> None:
        """Log the duplicate check, if one ran: telling which rows name registered patients discloses who is one."""
        if not self.outcome.duplicates_checked:
            return
        access.record(
            user=self.actor,
            action=ACCESS_ACTION,
            category="demographics",
            detail=f"import_patients{' (dry run)' if self.outcome.dry_run else ''}: "
            f"{self.outcome.valid + self.duplicates} rows compared by legal name and date of birth, "
            f"{self.duplicates} matched; no content shown",
        )

    def progress(self, line: int, lines: _Lines) -> Progress:
        """Return the progress so far."""
        outcome = self.outcome
        return Progress(
            line=line,
            rows=outcome.rows,
            valid=outcome.valid,
            invalid=outcome.invalid,
            bytes_read=lines.bytes_read,
            total_bytes=lines.total_bytes,
        )
