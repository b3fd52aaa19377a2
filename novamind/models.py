"""The audited, encrypted base every entity model inherits, and the encryption canary."""

import uuid

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from novamind import domain, encryption


class AnonymousWriteError(Exception):
    """A write was attempted without a named, authenticated actor."""


class UnauditedWriteError(Exception):
    """A bulk write path that records no history and no actor was called."""


class AuditedQuerySet(models.QuerySet):
    """A QuerySet that refuses the write and ordering paths which would bypass the audit."""

    def order_by(self, *field_names):
        encryption.check_orderable(self.model, field_names)
        return super().order_by(*field_names)

    def update(self, **kwargs):
        raise UnauditedWriteError(
            f"{self.model.__name__}.objects.update() records no history row and no actor; "
            f"save each object with novamind.audit.audited_save()."
        )

    update.queryset_only = True


class SealedHistory(models.Model):
    """The seal every change-history row carries: its place in its table's chain and its HMAC.

    Set by `novamind.history_chain` when the row is inserted, in the same transaction as the
    change it records; `verify_audit` recomputes it.
    """

    history_sequence = models.BigIntegerField("chain sequence", null=True, unique=True, editable=False)
    history_digest = models.CharField("chain digest", max_length=64, blank=True, editable=False)

    class Meta:
        abstract = True


def _history_user(instance, request=None, **kwargs):
    """Return the actor of the write that is being recorded: the audit field, by design."""
    return instance.updated_by


class AuditedModel(models.Model):
    """A record with a UUID key, audit fields, optimistic locking and a full change history.

    Every save must carry an actor (set by `novamind.audit.audited_save`), who becomes both
    `updated_by` and the history row's user, so the two can never disagree. `version` grows by
    one with every save; an update whose version is not the stored one is refused with
    `domain.ConcurrencyError` by the UPDATE statement itself, so two concurrent editors cannot
    both win, on any path.
    """

    id = models.UUIDField("ID", primary_key=True, default=uuid.uuid4, editable=False)
    version = models.PositiveIntegerField(
        "version", default=1, help_text="Grows by one with every change; used to refuse stale edits."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="created by",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="last changed by",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField("created", default=timezone.now, editable=False)
    updated_at = models.DateTimeField("last changed", default=timezone.now, editable=False)

    objects = models.Manager.from_queryset(AuditedQuerySet)()
    history = HistoricalRecords(inherit=True, get_user=_history_user, bases=[SealedHistory])

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        actor = self.__dict__.pop("_actor", None)
        if actor is None:
            raise AnonymousWriteError(
                f"{type(self).__name__} must be saved with novamind.audit.audited_save(…, actor=…)"
                f" so the change is attributed to a named user."
            )
        if self._state.adding:
            self.created_by = actor
        self.updated_by = actor
        self.updated_at = timezone.now()
        for column, value in self.blind_indexes().items():
            setattr(self, column, value)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "version", "updated_by", "updated_at", *self.blind_indexes()}
        expected = self.version
        if not self._state.adding:
            self.version = expected + 1
        self._expected_version = expected
        try:
            super().save(*args, **kwargs)
        except BaseException:
            self.version = expected
            raise
        finally:
            # django-simple-history leaves _change_reason on the instance after saving; a
            # stale reason must not be written onto the next, unrelated change.
            self.__dict__.pop("_change_reason", None)
            self.__dict__.pop("_expected_version", None)

    def blind_indexes(self) -> dict[str, str | None]:
        """Return the blind-index column values derived from this record's encrypted fields."""
        return {}

    def audit_info(self) -> domain.AuditInfo:
        """Return the audit metadata for the domain object."""
        return domain.AuditInfo(
            created_by=self.created_by.get_username(),
            updated_by=self.updated_by.get_username(),
            created_at=self.created_at,
            updated_at=self.updated_at,
            version=self.version,
        )

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        expected = self.__dict__.get("_expected_version")
        if expected is None:
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        if super()._do_update(base_qs.filter(version=expected), using, pk_val, values, update_fields, forced_update):
            return True
        current = base_qs.filter(pk=pk_val).values_list("version", flat=True).first()
        if current is not None:
            raise domain.ConcurrencyError(self._meta.verbose_name.capitalize(), self, expected, current)
        return False


class DomainValidatedModel(AuditedModel):
    """An audited model whose clean() reports domain errors where a form can show them."""

    class Meta:
        abstract = True

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        # Model.clean() is not told which fields a form excluded; Django's documented answer is
        # to look at `exclude` (see `validation_errors`).
        self._excluded_from_validation = set(exclude or ())
        try:
            super().full_clean(
                exclude=exclude, validate_unique=validate_unique, validate_constraints=validate_constraints
            )
        finally:
            self.__dict__.pop("_excluded_from_validation", None)

    def validation_error(self, violation: domain.RuleViolation) -> ValidationError:
        """Return `violation` as a ValidationError a ModelForm can place.

        A form excludes the fields it does not show (the prescriber, the workflow fields) and
        the fields whose own validation failed. An error about a field it does not show becomes
        a form-wide error naming the field; "required" on a field that failed in the form is
        already shown there (the form said "Enter a number"), so it is not repeated.
        """
        excluded = getattr(self, "_excluded_from_validation", set())
        placed: dict[str, list[str]] = {}
        for name, messages in violation.errors.items():
            if name == domain.RuleViolation.NON_FIELD or name not in excluded:
                placed.setdefault(name, []).extend(messages)
                continue
            try:
                field = self._meta.get_field(name)
            except FieldDoesNotExist:
                placed.setdefault(domain.RuleViolation.NON_FIELD, []).extend(messages)
                continue
            if field.editable:
                messages = [message for message in messages if message != domain.REQUIRED]
            label = str(field.verbose_name).capitalize()
            placed.setdefault(domain.RuleViolation.NON_FIELD, []).extend(f"{label}: {message}" for message in messages)
        return ValidationError({name: messages for name, messages in placed.items() if messages})


class EncryptionCanary(models.Model):
    """A known value encrypted under FIELD_ENCRYPTION_KEY when the database was created.

    The system check `novamind.E010` decrypts it at start-up: a wrong or missing key stops the
    process before any page can show or re-save ciphertext.
    """

    PLAINTEXT = encryption.CANARY_PLAINTEXT

    value = encryption.EncryptedCharField("value", max_length=64)
    created_at = models.DateTimeField("created", default=timezone.now)

    class Meta:
        verbose_name = "encryption canary"

    def __str__(self):
        return f"encryption canary {self.pk}"


class StaffProfile(AuditedModel):
    """What the clinic needs to know about a staff user beyond their login.

    Clinicians are the staff who see patients (appointments, notes); prescribers may also
    order medications, and need a DEA registration number for controlled substances.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name="user", on_delete=models.PROTECT, related_name="staff_profile"
    )
    credentials = models.CharField("credentials", max_length=40, blank=True, help_text="For example MD, PhD, LCSW, NP.")
    is_clinician = models.BooleanField(
        "clinician", default=False, help_text="Sees patients: can be booked and can author notes."
    )
    is_prescriber = models.BooleanField("prescriber", default=False, help_text="May order medications.")
    is_supervisor = models.BooleanField("supervisor", default=False, help_text="May co-sign notes of supervisees.")
    dea_number = models.CharField(
        "DEA number",
        max_length=9,
        blank=True,
        help_text="Required to prescribe controlled substances (schedules II–V).",
    )
    must_change_password = models.BooleanField(
        "must change password",
        default=False,
        editable=False,
        help_text="After a reset by someone else: choose a new password and enrol two-factor at next sign-in.",
    )

    class Meta:
        verbose_name = "staff profile"

    def __str__(self):
        return f"staff profile of {self.user.get_username()}"

    def clean(self):
        errors = {}
        if self.dea_number and not is_valid_dea_number(self.dea_number):
            errors["dea_number"] = "This is not a valid DEA number (two letters, seven digits, check digit)."
        if self.is_prescriber and not self.is_clinician:
            errors["is_prescriber"] = "A prescriber must also be a clinician."
        if errors:
            raise ValidationError(errors)


def profile_of(user) -> StaffProfile | None:
    """Return `user`'s staff profile, or None when they have none."""
    try:
        return user.staff_profile
    except ObjectDoesNotExist:
        return None


def staff_label(user, profile=None) -> str:
    """Return how screens name a staff member: "Dana Lee, MD" (or the username when no name is on file)."""
    name = user.get_full_name() or user.get_username()
    profile = profile_of(user) if profile is None else profile
    return f"{name}, {profile.credentials}" if profile is not None and profile.credentials else name


def is_valid_dea_number(value: str) -> bool:
    """Return whether `value` is a well-formed DEA registration number with a valid check digit."""
    value = value.strip().upper()
    if len(value) != 9 or not value[:2].isalpha() or not value[2:].isdigit():
        return False
    digits = [int(ch) for ch in value[2:]]
    total = digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])
    return total % 10 == digits[6]


class AccessLogEntry(models.Model):
    """One access to PHI (ASTM E2147: when, who, which patient, what, which data, from where).

    Append-only and tamper-evident: `digest` is an HMAC (AUDIT_LOG_KEY) over the row's canonical
    content and the previous row's digest, so `verify_audit` detects a changed, deleted or
    reordered row. On PostgreSQL a trigger refuses UPDATE and DELETE outright. The row holds
    no PHI: the patient is named by id and MRN, and a search is logged by what it searched on,
    never by the term typed.
    """

    sequence = models.BigIntegerField("sequence", unique=True, editable=False)
    occurred_at = models.DateTimeField("when", default=timezone.now, editable=False, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="user",
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        editable=False,
    )
    username = models.CharField("username", max_length=150, editable=False)
    patient_id = models.UUIDField("patient id", null=True, blank=True, db_index=True, editable=False)
    patient_mrn = models.CharField("patient MRN", max_length=12, blank=True, editable=False)
    action = models.CharField("action", max_length=32, editable=False)
    category = models.CharField("data category", max_length=32, editable=False)
    outcome = models.CharField("outcome", max_length=16, default="granted", editable=False)
    object_type = models.CharField("record type", max_length=64, blank=True, editable=False)
    object_id = models.CharField("record id", max_length=64, blank=True, editable=False)
    source_address = models.GenericIPAddressField("from address", null=True, blank=True, editable=False)
    emergency = models.BooleanField("emergency access", default=False, editable=False)
    detail = models.CharField("detail", max_length=255, blank=True, editable=False)
    previous_digest = models.CharField("previous digest", max_length=64, editable=False)
    digest = models.CharField("digest", max_length=64, editable=False)

    # Append-only for the application role: SELECT and INSERT only, TRUNCATE refused (novamind.dbroles).
    novamind_audit_table = True

    class Meta:
        verbose_name = "access log entry"
        verbose_name_plural = "access log"
        ordering = ["-sequence"]
        permissions = [("view_audit_report", "Can download the audit report")]
        indexes = [models.Index(fields=["user", "occurred_at"], name="novamind_access_user_when")]

    def __str__(self):
        return f"access #{self.sequence}"


class AccessLogHead(models.Model):
    """The chain's last sequence and digest: one row, locked while an entry is appended."""

    sequence = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")

    class Meta:
        verbose_name = "access log head"

    def __str__(self):
        return f"access log head at #{self.sequence}"


class HistoryChainHead(models.Model):
    """Where one history table's chain ends: locked while a history row is sealed."""

    table = models.CharField(max_length=100, unique=True)
    sequence = models.BigIntegerField(default=0)
    digest = models.CharField(max_length=64, default="")

    class Meta:
        verbose_name = "history chain head"

    def __str__(self):
        return f"{self.table} chain at #{self.sequence}"


class HistoryErasure(models.Model):
    """A receipt for a history row deleted on purpose (retention), standing in for it in the chain.

    It keeps the erased row's place and digest, never its content; `mac` (AUDIT_LOG_KEY) shows
    the application wrote it, so a receipt cannot be forged to cover a deletion.
    """

    novamind_audit_table = True

    table = models.CharField(max_length=100, editable=False)
    sequence = models.BigIntegerField(editable=False)
    digest = models.CharField(max_length=64, editable=False)
    erased_at = models.DateTimeField(default=timezone.now, editable=False)
    detail = models.CharField(max_length=255, blank=True, editable=False)
    mac = models.CharField(max_length=64, editable=False)

    class Meta:
        verbose_name = "history erasure receipt"
        constraints = [models.UniqueConstraint(fields=["table", "sequence"], name="novamind_erasure_once")]

    def __str__(self):
        return f"{self.table} #{self.sequence} erased"
