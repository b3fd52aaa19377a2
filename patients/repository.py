"""The patients repository: domain objects out, attributed writes in."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL

from novamind import audit, blind_index, encryption, history_chain
from novamind.domain import REQUIRED, ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import domain, models


def lock_patient(patient_id) -> models.Patient:
    """Return the patient row, locked until the transaction ends; RuleViolation if there is none.

    A write whose rule reads the patient's other records (an allergy check, a code listed once
    on the problem list) takes this lock first, so two such writes for one patient run one after
    the other and each sees what the other wrote.
    """
    if patient_id is None:
        raise RuleViolation({"patient": [REQUIRED]})
    with transaction.atomic():
        patient = models.Patient.objects.select_for_update().filter(pk=parse_id(patient_id)).first()
    if patient is None:
        raise RuleViolation({"patient": ["No patient with this id."]})
    return patient


class DjangoPatientRepository:
    """Patients in the database, read and written on behalf of one named user (`actor`)."""

    def __init__(self, *, actor):
        self.actor = audit.require_actor(actor)

    def add(self, patient: domain.Patient) -> domain.Patient:
        """Register `patient` under a new MRN and return it as stored."""
        row = models.Patient()
        row.update_from_domain(patient)
        audit.checked_save(row, actor=self.actor, reason="Registered")
        return row.to_domain()

    def add_many(self, patients: list[domain.Patient], *, now: dt.datetime, reason: str) -> int:
        """Register validated `patients` under new MRNs, in bulk, each with its creation history row.

        The bulk counterpart of `add` for imports: rows written together (COPY on PostgreSQL,
        bulk_create elsewhere) and their history rows copied from them, attributed to the actor
        at `now`. The caller validated each patient (`domain.Patient.validated`). Returns how many.
        """
        rows = []
        for patient, mrn in zip(patients, _unused_mrns(len(patients)), strict=True):
            row = models.Patient(
                id=uuid.uuid4(),
                mrn=mrn,
                created_by=self.actor,
                updated_by=self.actor,
                created_at=now,
                updated_at=now,
            )
            row.update_from_domain(patient)
            for column, value in row.blind_indexes().items():
                setattr(row, column, value)
            rows.append(row)
        if not rows:
            return 0
        history = models.Patient.history.model
        seals = history_chain.seal(history, [_creation_history_values(row, reason) for row in rows])
        prefixes = [(digest, row.pk) for row in rows for digest in row.name_prefix_indexes()]
        if connection.vendor == "postgresql":
            _copy_with_history(rows, seals, reason=reason)
            _copy_name_prefixes(prefixes)
        else:
            models.Patient.objects.bulk_create(rows)
            _write_creation_history(rows, seals, reason=reason)
            # Derived rows, without history of their own (see models.NamePrefixIndex).
            models.NamePrefixIndex.objects.bulk_create(
                models.NamePrefixIndex(digest=digest, patient_id=pk) for digest, pk in prefixes
            )
        return len(rows)

    def get_by_id(self, patient_id: uuid.UUID) -> domain.Patient | None:
        """Return the patient with this id, or None."""
        row = self._row(patient_id)
        return row.to_domain() if row else None

    def update(self, patient: domain.Patient) -> domain.Patient:
        """Store the changed details of `patient`; refuse when it was read at an older version."""
        row = self._existing(patient.id)
        expected = patient.audit.version if patient.audit else None
        if expected is None:
            raise RuleViolation("Update a patient that was read from the repository (it carries its version).")
        row.version = expected  # the UPDATE itself checks it, so a concurrent save cannot slip in
        row.update_from_domain(patient)
        audit.checked_save(row, actor=self.actor, reason="Details changed")
        return row.to_domain()

    def delete(self, patient_id: uuid.UUID) -> domain.Patient:
        """Deactivate the patient: clinical records are retained, never deleted."""
        return self.set_status(patient_id, domain.PatientStatus.INACTIVE)

    def set_status(
        self, patient_id: uuid.UUID, status: domain.PatientStatus, *, version: int | None = None
    ) -> domain.Patient:
        """Set the patient's status, as the actor; with `version`, refuse a stale change."""
        row = self._existing(patient_id)
        if version is not None and row.version != version:
            raise ConcurrencyError("Patient", row, version, row.version)
        if row.status == status.value:
            return row.to_domain()
        row.status = status.value
        audit.checked_save(row, actor=self.actor, reason=f"Status set to {status.value}")
        return row.to_domain()

    def find_by_mrn(self, mrn: str) -> domain.Patient | None:
        """Return the patient with this medical record number, or None."""
        row = models.Patient.objects.select_related("created_by", "updated_by").filter(mrn=mrn.strip().upper()).first()
        return row.to_domain() if row else None

    def search(
        self,
        *,
        name: str | None = None,
        last_name_prefix: str | None = None,
        first_name_prefix: str | None = None,
        date_of_birth: dt.date | None = None,
        birth_year: int | None = None,
        phone: str | None = None,
        email: str | None = None,
    ) -> list[domain.Patient]:
        """Return patients matching every criterion given, through the blind indexes.

        `name` matches a full legal name, a preferred name with the last name, or a last name,
        exactly; the prefixes match the start of the last name and of the first or preferred name
        (see `search_query`). Case, accents, punctuation and spacing do not matter.
        """
        query = search_query(
            name=name,
            last_name_prefix=last_name_prefix,
            first_name_prefix=first_name_prefix,
            date_of_birth=date_of_birth,
            birth_year=birth_year,
            phone=phone,
            email=email,
        )
        if query is None:
            return []
        rows = models.Patient.objects.select_related("created_by", "updated_by").filter(query)
        return [row.to_domain() for row in rows.order_by("mrn")]

    def list(self, *, page: int = 1, page_size: int = 50, status: domain.PatientStatus | None = None) -> domain.Page:
        """Return one page of patients ordered by MRN."""
        if page < 1 or not 1 <= page_size <= 500:
            raise RuleViolation("Pages start at 1 and hold 1 to 500 patients.")
        rows = models.Patient.objects.select_related("created_by", "updated_by")
        if status is not None:
            rows = rows.filter(status=status.value)
        start = (page - 1) * page_size
        items = [row.to_domain() for row in rows.order_by("mrn")[start : start + page_size]]
        return domain.Page(items=items, number=page, page_size=page_size, total=rows.count())

    def _row(self, patient_id) -> models.Patient | None:
        patient_id = parse_id(patient_id)
        if patient_id is None:
            return None
        # get(), not filter().first(): first() adds ORDER BY mrn, and compiling that over the
        # selected columns of three tables cost more than the lookup itself (see bench/).
        try:
            return models.Patient.objects.select_related("created_by", "updated_by").get(pk=patient_id)
        except models.Patient.DoesNotExist:
            return None

    def _existing(self, patient_id) -> models.Patient:
        row = self._row(patient_id)
        if row is None:
            raise NotFound(f"No patient with id {patient_id}.")
        return row


def _creation_history_values(row: models.Patient, reason: str) -> dict:
    """Return the values of `row`'s creation history row, as the copies below write it (for its seal)."""
    tracked = {field.attname: getattr(row, field.attname) for field in models.Patient.history.model.tracked_fields}
    return {
        **tracked,
        "history_date": row.updated_at,
        "history_user_id": row.updated_by_id,
        "history_type": "+",
        "history_change_reason": reason,
    }


def _write_creation_history(rows: list[models.Patient], seals: list[tuple[int, str]], *, reason: str) -> None:
    """Write the creation history row of each patient in `rows`, attributed to its creator, with its seal.

    What simple_history's bulk_history_create would write (the tracked fields, type "+", the
    reason; the user is `updated_by` and the date `updated_at`, as AuditedModel.save() records
    them), but copied by the database from the rows just inserted in this transaction: the
    ciphertext is copied, not encrypted a second time, and no second set of 40-column
    objects goes through Python: about half the cost of an import.
    """
    history = models.Patient.history.model
    ids = [row.pk for row in rows]
    tracked = [field.attname for field in history.tracked_fields]
    copies = (
        models.Patient.objects.filter(pk__in=ids)
        .order_by()
        .annotate(
            import_history_date=F("updated_at"),
            import_history_user=F("updated_by_id"),
            import_history_type=Value("+"),
            import_history_reason=Value(reason),
            import_history_digest=Value(""),
        )
        .values_list(
            *tracked,
            "import_history_date",
            "import_history_user",
            "import_history_type",
            "import_history_reason",
            "import_history_digest",
        )
    )
    select, params = copies.query.sql_with_params()
    columns = [
        history._meta.get_field(name).column
        for name in (
            *tracked,
            "history_date",
            "history_user_id",
            "history_type",
            "history_change_reason",
            "history_digest",
        )
    ]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({', '.join(map(quote, columns))}) {select}",
            params,
        )
        cursor.executemany(
            f"UPDATE {quote(history._meta.db_table)} SET {quote('history_sequence')} = %s, {quote('history_digest')} = %s "
            f"WHERE {quote('id')} = %s AND {quote('history_sequence')} IS NULL",
            [
                (sequence, digest, history._meta.get_field("id").get_db_prep_value(pk, connection))
                for pk, (sequence, digest) in zip(ids, seals, strict=True)
            ],
        )


def _copy_with_history(rows: list[models.Patient], seals: list[tuple[int, str]], *, reason: str) -> None:
    """PostgreSQL: write `rows` and their creation history rows with COPY, attributed to their creator.

    The values are the ones bulk_create would send (each field's pre_save, then its
    get_db_prep_save, which encrypts), and each history row repeats its live row's prepared
    values, so the ciphertext is copied, not encrypted again, as in `_write_creation_history`.
    COPY spares the compilation and client-side quoting of two 40-column INSERTs per batch,
    which cost more than the encryption (see bench/ and the README's performance section).
    """
    fields = models.Patient._meta.concrete_fields
    history = models.Patient.history.model
    tracked = [field.attname for field in history.tracked_fields]
    history_columns = [
        history._meta.get_field(name).column
        for name in (
            *tracked,
            "history_date",
            "history_user_id",
            "history_type",
            "history_change_reason",
            "history_sequence",
            "history_digest",
        )
    ]
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN"
    live = statement.format(quote(models.Patient._meta.db_table), ", ".join(quote(f.column) for f in fields))
    creation = statement.format(quote(history._meta.db_table), ", ".join(map(quote, history_columns)))
    prepared = []
    # The key check runs one query on the first encrypted write of a process: run it now, since
    # no other statement can be sent on a connection while a COPY is open (it would wait forever).
    encryption.require_writable_key(connection)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # Each row is sent as soon as it is encrypted: the server stores it while the next is prepared.
        with cursor.cursor.copy(live) as copy:
            for row in rows:
                values = {
                    field.attname: field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields
                }
                copy.write_row(list(values.values()))
                prepared.append(values)
        with cursor.cursor.copy(creation) as copy:
            for row, values, (sequence, digest) in zip(rows, prepared, seals, strict=True):
                copy.write_row(
                    [
                        *(values[name] for name in tracked),
                        row.updated_at,
                        row.updated_by_id,
                        "+",
                        reason,
                        sequence,
                        digest,
                    ]
                )


def _copy_name_prefixes(prefixes: list[tuple[str, uuid.UUID]]) -> None:
    """PostgreSQL: write the new patients' NamePrefixIndex rows with COPY, as their rows were written."""
    table = models.NamePrefixIndex._meta
    columns = ", ".join(connection.ops.quote_name(table.get_field(name).column) for name in ("digest", "patient"))
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table.db_table)} ({columns}) FROM STDIN") as copy:
            for row in prefixes:
                copy.write_row(row)


def _unused_mrns(count: int) -> list[str]:
    """Return `count` distinct random MRNs no patient has, with one query per draw.

    The bulk counterpart of models.unused_mrn (one query per patient would dominate an import);
    the unique constraint backs both up.
    """
    mrns: set[str] = set()
    for _ in range(models.MRN_ATTEMPTS):
        while len(mrns) < count:
            mrns.add(domain.generate_mrn())
        taken = set(models.Patient.objects.filter(mrn__in=mrns).values_list("mrn", flat=True))
        if not taken:
            return list(mrns)
        mrns -= taken
    raise RuntimeError("Could not draw unused medical record numbers.")


NO_ONE = Q(pk__in=[])


def search_query(
    *,
    name=None,
    last_name_prefix=None,
    first_name_prefix=None,
    date_of_birth=None,
    birth_year=None,
    phone=None,
    email=None,
):
    """Return the Q object for a blind-index search, or None when nothing was given.

    One function serves the repository and the admin search boxes. Every criterion must match
    (a search whose every criterion normalises to nothing, such as "--", matches no one):

    - `name`: a full legal name, a preferred name with the last name, or a last name, exactly;
    - `last_name_prefix`: the start of the last name, as typed from 3 to 6 letters (longer: its
      first 6; fewer: the whole last name, so "Li" is found and "Lin" is not);
    - `first_name_prefix`: the first 3 letters of the legal first or the preferred name (fewer:
      the whole name);
    - `birth_year`: with a last name, the year of birth. There is no index of the year alone (it
      would group every patient by year), so a year without a last name matches no one;
    - `date_of_birth`, `phone`, `email`: exactly.
    """
    clauses = []
    if name and name.strip():
        clauses.append(
            Q(full_name_index=models.name_index(name))
            | Q(preferred_full_name_index=models.name_index(name))
            | Q(last_name_index=models.last_name_index(name))
        )
    last = models.last_name_prefix_index(last_name_prefix) if last_name_prefix else None
    if birth_year:
        if last is None:
            return NO_ONE
        clauses.append(_has_prefix(models.last_name_prefix_year_index(last_name_prefix, birth_year)))
        # The year is indexed with the first 3 letters only: more letters typed narrow it further.
        if blind_index.prefix_length(last_name_prefix, longest=models.LAST_NAME_PREFIXES[-1]) > models.YEAR_PREFIX:
            clauses.append(_has_prefix(last))
    elif last is not None:
        clauses.append(_has_prefix(last))
    if first_name_prefix and (given := models.given_name_prefix_indexes(first_name_prefix)):
        clauses.append(_has_prefix(*given))
    if date_of_birth:
        clauses.append(Q(date_of_birth_index=models.date_of_birth_index(date_of_birth)))
    if phone and phone.strip():
        try:
            phone = domain.normalize_phone(phone, settings.NOVAMIND_DEFAULT_PHONE_REGION)
        except ValueError:
            pass  # an impossible number matches nothing; its digits are still hashed, never stored
        clauses.append(Q(phone_index=models.phone_index(phone)))
    if email and email.strip():
        clauses.append(Q(email_index=models.email_index(email)))
    if not clauses:
        given = (name, last_name_prefix, first_name_prefix, date_of_birth, birth_year, phone, email)
        return NO_ONE if any(given) else None
    query = clauses[0]
    for clause in clauses[1:]:
        query &= clause
    return query


def _has_prefix(*digests: str) -> Q:
    """Return the condition, on patients, that one of their NamePrefixIndex rows has one of `digests`.

    The subquery is written in SQL because the ORM's (Exists, or `__in` a queryset) took longer
    to compile than the database took to answer: about twice the whole plaintext search it is
    measured against (bench, "prefix search"). The database plans both forms alike.
    """
    meta, quote = models.NamePrefixIndex._meta, connection.ops.quote_name
    subquery = (
        f"SELECT {quote(meta.get_field('patient').column)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.get_field('digest').column)} IN ({', '.join(['%s'] * len(digests))})"
    )
    return Q(pk__in=RawSQL(subquery, digests))
