"""Medication orders and allergies: what a patient takes, and why, is stored encrypted.

A patient's medication order is PHI: the drug alone can disclose a diagnosis. Everything that
says what is taken or why (drug, RxNorm code, strength, dose form, dose, route, schedule, the
as-needed indication, instructions, override reasons, the discontinuation note) is encrypted.
Plaintext is kept only for what the workflow queries and the database constrains: the patient
and prescriber keys, status, dates, frequency pattern, quantity and refill count, the revision
link and the coded discontinuation reason, none of which says what the patient takes. Checks
that need the drug (allergies, duplicates) run in Python over the patient's own orders.
"""

import decimal

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.utils import timezone

from medications import domain
from novamind import encryption
from novamind.domain import RuleViolation, choice_or
from novamind.models import DomainValidatedModel, is_valid_dea_number, profile_of, staff_label


def prescriber_of(user) -> domain.Prescriber | None:
    """Return the prescribing rights of `user`, from their staff profile."""
    if user is None:
        return None
    profile = profile_of(user)
    return domain.Prescriber(
        user_id=user.pk,
        username=user.get_username(),
        display_name=staff_label(user, profile),
        is_prescriber=bool(profile and profile.is_prescriber and user.is_active),
        has_dea_registration=bool(profile and profile.dea_number and is_valid_dea_number(profile.dea_number)),
    )


def _decimal(value) -> decimal.Decimal | None:
    if value is None or value == "":
        return None
    try:
        return decimal.Decimal(str(value).strip())
    except decimal.InvalidOperation:
        return None


FREQUENCY_WITH_INTERVAL = [kind for kind in domain.INTERVAL_LIMITS]


class MedicationOrder(DomainValidatedModel):
    """One prescription of one drug for one patient, from its start to its stop.

    Never edited once written: a change of dose or frequency discontinues the order as
    "changed" and creates a new order that `replaces` it, so the history is a timeline.
    """

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="medication_orders",
    )
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="prescriber",
        on_delete=models.PROTECT,
        related_name="medication_orders_prescribed",
        null=True,
        blank=True,
        editable=False,
        help_text="The staff member who wrote the order: a prescriber, with a DEA number for controlled substances. "
        "Empty for an order prescribed elsewhere and recorded from another system's record.",
    )
    # Nullable only for the rows written before this column existed: they stay NULL, so their sealed
    # history rows keep their seals (novamind.history_chain covers non-NULL values only). Every
    # order written since holds a token, "" included, like every other encrypted column.
    recorded_from = encryption.EncryptedTextField(
        "recorded from",
        null=True,
        blank=True,
        editable=False,
        help_text="For an order prescribed elsewhere (imported from another system's FHIR record): the system, the "
        "order's identifier there and the prescriber it names. Empty for an order prescribed here.",
    )
    drug_name = encryption.EncryptedCharField(
        "drug",
        max_length=domain.DRUG_NAME_MAX,
        help_text="Generic name preferred, e.g. sertraline.",
    )
    rxnorm_code = encryption.EncryptedCharField(
        "RxNorm code",
        max_length=domain.RXNORM_MAX_DIGITS,
        blank=True,
        help_text="Optional RxCUI, e.g. 36437.",
    )
    strength = encryption.EncryptedCharField(
        "strength",
        max_length=domain.STRENGTH_MAX,
        blank=True,  # required of a prescription by the domain; an order recorded from elsewhere may lack it
        help_text="Of one unit dispensed, e.g. 50 mg or 10 mg/mL.",
    )
    # Blank only for an order recorded from another system's record (domain.MedicationOrder.is_outside):
    # the domain requires each of these of a prescription written here, and the admin's forms do too.
    dose_form = encryption.EncryptedCharField("form", max_length=20, blank=True, choices=domain.DoseForm.choices())
    dose_amount = encryption.EncryptedCharField(
        "dose", max_length=16, blank=True, help_text="How much is taken each time."
    )
    dose_unit = encryption.EncryptedCharField("dose unit", max_length=10, blank=True, choices=domain.DoseUnit.choices())
    route = encryption.EncryptedCharField("route", max_length=20, blank=True, choices=domain.Route.choices())
    frequency_kind = models.CharField("frequency", max_length=20, blank=True, choices=domain.FrequencyKind.choices())
    frequency_interval = models.PositiveSmallIntegerField(
        "every N",
        null=True,
        blank=True,
        help_text="The N of 'every N hours' or 'every N weeks'.",
    )
    as_needed = models.BooleanField(
        "as needed (PRN)", default=False, help_text="Taken only when needed, for the indication below."
    )
    prn_indication = encryption.EncryptedCharField(
        "as-needed indication",
        max_length=domain.INDICATION_MAX,
        blank=True,
        help_text="What an as-needed dose is for, e.g. panic attacks.",
    )
    schedule = encryption.EncryptedCharField(
        "controlled-substance schedule",
        max_length=4,
        choices=domain.Schedule.choices(),
        default=domain.Schedule.NONE.value,
        help_text="Schedule II cannot be refilled; III and IV at most five times.",
    )
    start_date = models.DateField("start date", db_index=True)
    end_date = models.DateField("end date", null=True, blank=True, help_text="Leave empty for an ongoing order.")
    quantity = models.DecimalField(
        "quantity",
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Units dispensed per fill, e.g. 30.",
    )
    refills = models.PositiveSmallIntegerField("refills", default=0)
    instructions = encryption.EncryptedTextField(
        "instructions", blank=True, help_text="Directions for the patient and pharmacist."
    )
    status = models.CharField(
        "status",
        max_length=12,
        choices=domain.OrderStatus.choices(),
        default=domain.OrderStatus.ACTIVE.value,
        db_index=True,
        editable=False,
        help_text="Changed with the Revise, Discontinue, Hold, Resume and Complete actions.",
    )
    discontinued_on = models.DateField("stopped on", null=True, blank=True, editable=False)
    discontinue_reason = models.CharField(
        "reason stopped",
        max_length=20,
        blank=True,
        choices=domain.DiscontinueReason.choices(),
        editable=False,
    )
    discontinue_note = encryption.EncryptedTextField("note on stopping", blank=True, editable=False)
    allergy_override_reason = encryption.EncryptedTextField(
        "allergy override reason",
        blank=True,
        help_text="Required when the drug matches a recorded allergy; kept on the order.",
    )
    duplicate_override_reason = encryption.EncryptedTextField(
        "duplicate therapy override reason",
        blank=True,
        help_text="Required when the patient already has a current order of the same drug or class.",
    )
    replaces = models.OneToOneField(
        "self",
        verbose_name="revises order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        editable=False,
    )

    class Meta:
        verbose_name = "medication order"
        ordering = ["-start_date", "-created_at"]
        # The front desk sees the current list on the patient's page, not the orders themselves.
        permissions = [("view_current_medications", "Can view a patient's current medication list")]
        indexes = [models.Index(fields=["patient", "status"], name="meds_order_patient_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.OrderStatus]),
                name="medications_order_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(status=domain.OrderStatus.DISCONTINUED.value, discontinued_on__isnull=False)
                    & ~models.Q(discontinue_reason="")
                )
                | (
                    ~models.Q(status=domain.OrderStatus.DISCONTINUED.value)
                    & models.Q(discontinued_on__isnull=True, discontinue_reason="")
                ),
                name="medications_order_stop_date_and_reason_iff_discontinued",
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
                name="medications_order_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__isnull=True) | models.Q(quantity__gt=0),
                name="medications_order_quantity_positive",
            ),
            # The per-schedule limit needs the schedule, which is encrypted; this is the widest.
            models.CheckConstraint(
                condition=models.Q(refills__lte=max(domain.MAX_REFILLS.values())),
                name="medications_order_refills_limit",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(
                        frequency_kind__in=FREQUENCY_WITH_INTERVAL,
                        frequency_interval__isnull=False,
                        frequency_interval__gte=1,
                    )
                    | (
                        ~models.Q(frequency_kind__in=FREQUENCY_WITH_INTERVAL)
                        & models.Q(frequency_interval__isnull=True)
                    )
                ),
                name="medications_order_interval_iff_every_n",
            ),
            models.CheckConstraint(
                condition=~models.Q(replaces=models.F("id")), name="medications_order_not_self_revision"
            ),
        ]

    def __str__(self):
        # The admin log keeps str(obj) in plaintext: an id, never the drug.
        return f"medication order {str(self.pk)[:8]}" if self.pk else "new medication order"

    def clean(self):
        try:
            order = self.to_domain(with_audit=False)
            today = timezone.localdate()
            order = domain.check_new_order(order, today=today) if self._state.adding else order.validated(today=today)
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.update_from_domain(order)

    def to_domain(self, *, with_audit=True) -> domain.MedicationOrder:
        """Return the domain MedicationOrder this row holds."""
        adding = self._state.adding
        replaced_by_id = None
        if not adding:
            try:
                replaced_by_id = self.replaced_by.pk
            except ObjectDoesNotExist:
                replaced_by_id = None
        return domain.MedicationOrder(
            id=None if adding else self.pk,
            patient_id=self.patient_id,
            prescriber=prescriber_of(self.prescriber) if self.prescriber_id else None,
            drug_name=self.drug_name or "",
            rxnorm_code=self.rxnorm_code or "",
            strength=self.strength or "",
            dose_form=choice_or(domain.DoseForm, self.dose_form),
            dose_amount=_decimal(self.dose_amount),
            dose_unit=choice_or(domain.DoseUnit, self.dose_unit),
            route=choice_or(domain.Route, self.route),
            frequency=domain.Frequency(
                kind=choice_or(domain.FrequencyKind, self.frequency_kind),
                interval=self.frequency_interval,
                as_needed=bool(self.as_needed),
                indication=self.prn_indication or "",
            ),
            schedule=choice_or(domain.Schedule, self.schedule) or domain.Schedule.NONE,
            start_date=self.start_date,
            end_date=self.end_date,
            quantity=_decimal(self.quantity),
            refills=self.refills,
            instructions=self.instructions or "",
            status=domain.OrderStatus(self.status),
            discontinued_on=self.discontinued_on,
            discontinue_reason=choice_or(domain.DiscontinueReason, self.discontinue_reason),
            discontinue_note=self.discontinue_note or "",
            allergy_override_reason=self.allergy_override_reason or "",
            duplicate_override_reason=self.duplicate_override_reason or "",
            replaces_id=self.replaces_id,
            replaced_by_id=replaced_by_id,
            written_on=None if adding else timezone.localdate(self.created_at),
            recorded_from=self.recorded_from or "",
            audit=self.audit_info() if with_audit and not adding else None,
        )

    def update_from_domain(self, order: domain.MedicationOrder) -> None:
        """Copy `order` onto this row (identity, prescriber and audit excluded)."""
        self.patient_id = order.patient_id
        self.drug_name = order.drug_name
        self.rxnorm_code = order.rxnorm_code
        self.strength = order.strength
        self.dose_form = order.dose_form.value if order.dose_form else ""
        self.dose_amount = domain.format_decimal(order.dose_amount)
        self.dose_unit = order.dose_unit.value if order.dose_unit else ""
        self.route = order.route.value if order.route else ""
        self.frequency_kind = order.frequency.kind.value if order.frequency.kind else ""
        self.frequency_interval = order.frequency.interval
        self.as_needed = order.frequency.as_needed
        self.prn_indication = order.frequency.indication
        self.schedule = order.schedule.value
        self.start_date = order.start_date
        self.end_date = order.end_date
        self.quantity = order.quantity
        self.refills = order.refills
        self.instructions = order.instructions
        self.status = order.status.value
        self.discontinued_on = order.discontinued_on
        self.discontinue_reason = order.discontinue_reason.value if order.discontinue_reason else ""
        self.discontinue_note = order.discontinue_note
        self.allergy_override_reason = order.allergy_override_reason
        self.duplicate_override_reason = order.duplicate_override_reason
        self.replaces_id = order.replaces_id
        self.recorded_from = order.recorded_from


class Allergy(DomainValidatedModel):
    """A substance the patient reacts to: part of the patient's record, shown on their page."""

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="allergies",
    )
    substance = encryption.EncryptedCharField(
        "substance",
        max_length=domain.SUBSTANCE_MAX,
        help_text="A drug (sertraline), a drug class (SSRIs, benzodiazepines) or another substance.",
    )
    reaction = encryption.EncryptedCharField(
        "reaction", max_length=domain.REACTION_MAX, blank=True, help_text="For example hives, anaphylaxis."
    )
    severity = encryption.EncryptedCharField(
        "severity",
        max_length=20,
        choices=domain.AllergySeverity.choices(),
        default=domain.AllergySeverity.UNKNOWN.value,
    )
    status = models.CharField(
        "status",
        max_length=20,
        choices=domain.AllergyStatus.choices(),
        default=domain.AllergyStatus.ACTIVE.value,
        db_index=True,
        help_text="Entries are retired, never deleted: only active allergies are checked.",
    )

    class Meta:
        verbose_name = "allergy"
        verbose_name_plural = "allergies"
        ordering = ["created_at"]
        indexes = [
            # The admin list's order (newest first, the pk to make it total): its first page is
            # read from this index instead of sorting every allergy of the clinic.
            models.Index(fields=["-created_at", "-id"], name="medications_allergy_list"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.AllergyStatus]),
                name="medications_allergy_status_valid",
            ),
        ]

    def __str__(self):
        return f"allergy {str(self.pk)[:8]}" if self.pk else "new allergy"

    def clean(self):
        try:
            allergy = self.to_domain(with_audit=False).validated()
        except RuleViolation as violation:
            raise self.validation_error(violation) from None
        self.update_from_domain(allergy)

    def to_domain(self, *, with_audit=True) -> domain.Allergy:
        """Return the domain Allergy this row holds."""
        return domain.Allergy(
            id=None if self._state.adding else self.pk,
            patient_id=self.patient_id,
            substance=self.substance or "",
            reaction=self.reaction or "",
            severity=choice_or(domain.AllergySeverity, self.severity) or domain.AllergySeverity.UNKNOWN,
            status=choice_or(domain.AllergyStatus, self.status) or domain.AllergyStatus.ACTIVE,
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, allergy: domain.Allergy) -> None:
        """Copy `allergy` onto this row (identity and audit excluded)."""
        self.patient_id = allergy.patient_id
        self.substance = allergy.substance
        self.reaction = allergy.reaction
        self.severity = allergy.severity.value
        self.status = allergy.status.value
