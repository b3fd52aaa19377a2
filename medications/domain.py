"""Medications: a patient's medication orders and allergies, and the rules for prescribing.

An order is never edited in place. Changing the dose, frequency or any other detail of a current
order discontinues it ("changed") and creates a new order linked to it (`revise`), so a patient's
medication history reads as a timeline of what they actually took. Before an order is written
it is checked against the patient's own record (`check_against_record`): a drug that matches a
recorded allergy, by name or by the drug-class table, or that duplicates a current order, is
refused unless the prescriber gives a reason for overriding, which is kept on the order. A dose
far from the one it follows (`dose_change`: more than the clinic's factor up or down, or in
another unit) is refused unless the prescriber confirms it with that write; the confirmation is
kept in the order's history (the reason of its history row), not on the order.

Errors are keyed by the order's stored field names (`dose_amount`, `frequency_interval`, …) so
the admin shows each one next to its field. Standard library only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import uuid

from medications import drug_classes
from novamind.domain import (
    EARLIEST_DATE,
    REQUIRED,
    AuditInfo,
    Choice,
    Collector,
    RuleViolation,
    date_bounds_error,
    years_from,
)

NON_FIELD = RuleViolation.NON_FIELD

DRUG_NAME_MAX = 200
STRENGTH_MAX = 60
RXNORM_MAX_DIGITS = 8
INDICATION_MAX = 200
TEXT_MAX = 2000
SUBSTANCE_MAX = 200
REACTION_MAX = 500
DOSE_MAX = decimal.Decimal("99999")
QUANTITY_MAX = decimal.Decimal("9999999")
DECIMAL_PLACES = {"dose_amount": 4, "quantity": 2}
INTERVAL_LIMITS = {"every_n_hours": (1, 72), "every_n_weeks": (1, 12)}
LATEST_YEARS = 5  # an order's start and end dates lie no further ahead than this, from today


class OrderStatus(Choice):
    """Where an order is in its life."""

    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    DISCONTINUED = "discontinued", "Discontinued"
    COMPLETED = "completed", "Completed"


CURRENT_STATUSES = (OrderStatus.ACTIVE, OrderStatus.ON_HOLD)


class Schedule(Choice):
    """The controlled-substance schedule of the drug (US Controlled Substances Act)."""

    NONE = "none", "Not controlled"
    II = "II", "Schedule II"
    III = "III", "Schedule III"
    IV = "IV", "Schedule IV"
    V = "V", "Schedule V"

    @property
    def controlled(self) -> bool:
        """Return whether prescribing it needs a DEA registration."""
        return self is not Schedule.NONE


# Schedule II: no refills (21 USC 829(a)). Schedules III and IV: at most five refills
# (21 CFR 1306.22). Schedule V and uncontrolled drugs: the clinic's own limit of a year's supply
# of monthly fills.
MAX_REFILLS = {Schedule.NONE: 11, Schedule.II: 0, Schedule.III: 5, Schedule.IV: 5, Schedule.V: 11}


class DoseForm(Choice):
    """The dose form dispensed."""

    TABLET = "tablet", "tablet"
    TABLET_ER = "tablet_er", "extended-release tablet"
    CAPSULE = "capsule", "capsule"
    CAPSULE_ER = "capsule_er", "extended-release capsule"
    ODT = "odt", "orally disintegrating tablet"
    SUBLINGUAL = "sublingual", "sublingual tablet"
    SOLUTION = "solution", "oral solution"
    INJECTION = "injection", "injection"
    LONG_ACTING_INJECTION = "lai", "long-acting injection"
    PATCH = "patch", "transdermal patch"
    NASAL_SPRAY = "nasal_spray", "nasal spray"


class DoseUnit(Choice):
    """The unit a dose is measured in."""

    MG = "mg", "mg"
    MCG = "mcg", "mcg"
    G = "g", "g"
    ML = "mL", "mL"
    TABLET = "tablet", "tablet(s)"
    CAPSULE = "capsule", "capsule(s)"
    PATCH = "patch", "patch(es)"
    SPRAY = "spray", "spray(s)"


class Route(Choice):
    """How the drug is taken."""

    ORAL = "oral", "by mouth"
    SUBLINGUAL = "sublingual", "under the tongue"
    INTRAMUSCULAR = "im", "into the muscle"
    SUBCUTANEOUS = "subcutaneous", "under the skin"
    TRANSDERMAL = "transdermal", "on the skin"
    INTRANASAL = "intranasal", "in the nose"


class FrequencyKind(Choice):
    """How often a dose is taken."""

    ONCE_DAILY = "once_daily", "once daily"
    TWICE_DAILY = "twice_daily", "twice daily"
    THREE_TIMES_DAILY = "three_times_daily", "three times daily"
    FOUR_TIMES_DAILY = "four_times_daily", "four times daily"
    EVERY_MORNING = "every_morning", "every morning"
    AT_BEDTIME = "at_bedtime", "at bedtime"
    EVERY_N_HOURS = "every_n_hours", "every N hours"
    ONCE_WEEKLY = "once_weekly", "once weekly"
    EVERY_N_WEEKS = "every_n_weeks", "every N weeks"
    AS_NEEDED = "as_needed", "as needed"


class DiscontinueReason(Choice):
    """Why an order was stopped."""

    CHANGED = "changed", "Changed (replaced by a revised order)"
    ADVERSE_EFFECT = "adverse_effect", "Adverse effect"
    INEFFECTIVE = "ineffective", "Not effective"
    PATIENT_REQUEST = "patient_request", "Patient's request"
    NO_LONGER_NEEDED = "no_longer_needed", "No longer needed"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"
    OTHER = "other", "Other (see note)"


class AllergySeverity(Choice):
    """How severe the recorded reaction was."""

    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life_threatening", "Life-threatening"
    UNKNOWN = "unknown", "Unknown"


class AllergyStatus(Choice):
    """Whether an allergy entry still counts. Entries are retired, never deleted."""

    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "Resolved (no longer allergic)"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


@dataclasses.dataclass(frozen=True)
class Frequency:
    """A structured frequency: a kind, the N of "every N hours/weeks", and as-needed use."""

    kind: FrequencyKind | None
    interval: int | None = None
    as_needed: bool = False
    indication: str = ""

    def describe(self) -> str:
        """Return the frequency as a prescription reads it ("every 6 hours as needed for panic")."""
        if self.kind is None:
            return ""
        if self.kind in (FrequencyKind.EVERY_N_HOURS, FrequencyKind.EVERY_N_WEEKS):
            unit = "hour" if self.kind is FrequencyKind.EVERY_N_HOURS else "week"
            text = f"every {self.interval} {unit}{'s' if self.interval != 1 else ''}"
        else:
            text = self.kind.label
        if self.as_needed and self.kind is not FrequencyKind.AS_NEEDED:
            text += " as needed"
        if self.indication:
            text += f" for {self.indication}"
        return text


@dataclasses.dataclass(frozen=True)
class Prescriber:
    """A staff member as the prescribing rules see them."""

    user_id: int | None
    username: str
    display_name: str = ""
    is_prescriber: bool = False
    has_dea_registration: bool = False


@dataclasses.dataclass
class MedicationOrder:
    """One prescription of one drug for one patient, from its start to its stop."""

    patient_id: uuid.UUID | None
    drug_name: str
    strength: str
    dose_form: DoseForm | None
    dose_amount: decimal.Decimal | None
    dose_unit: DoseUnit | None
    route: Route | None
    frequency: Frequency
    start_date: dt.date | None
    quantity: decimal.Decimal | None
    prescriber: Prescriber | None = None
    end_date: dt.date | None = None
    refills: int = 0
    schedule: Schedule = Schedule.NONE
    rxnorm_code: str = ""
    instructions: str = ""
    status: OrderStatus = OrderStatus.ACTIVE
    discontinued_on: dt.date | None = None
    discontinue_reason: DiscontinueReason | None = None
    discontinue_note: str = ""
    allergy_override_reason: str = ""
    duplicate_override_reason: str = ""
    # Given with a write, for that write only (medications.repository writes it into the history
    # row's reason); an order read back does not carry it.
    dose_change_confirmed: bool = False
    replaces_id: uuid.UUID | None = None
    replaced_by_id: uuid.UUID | None = None
    written_on: dt.date | None = None
    # An order prescribed elsewhere and recorded from another system's record (a FHIR import):
    # where it came from, in words (the system, the order's id there, the prescriber it names).
    # Such an order has no NovaMind prescriber, keeps the status its source gave it, and may lack
    # details a prescription written here must have (form, route, dose, quantity); empty for an
    # order prescribed here.
    recorded_from: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def is_outside(self) -> bool:
        """Return whether the order was prescribed elsewhere and recorded from another system's record."""
        return bool(self.recorded_from.strip())

    @property
    def is_current(self) -> bool:
        """Return whether the order is on the patient's current list (active or on hold)."""
        return self.status in CURRENT_STATUSES

    @property
    def medication(self) -> str:
        """Return what is dispensed: "sertraline 50 mg tablet"."""
        form = self.dose_form.label if self.dose_form else ""
        return " ".join(part for part in (self.drug_name, self.strength, form) if part)

    @property
    def dose(self) -> str:
        """Return how much is taken each time: "100 mg" ("" while the amount or unit is missing)."""
        return (
            f"{format_decimal(self.dose_amount)} {self.dose_unit.label}" if self.dose_amount and self.dose_unit else ""
        )

    @property
    def sig(self) -> str:
        """Return the directions: "100 mg by mouth once daily"."""
        route = self.route.label if self.route else ""
        return " ".join(part for part in (self.dose, route, self.frequency.describe()) if part)

    @property
    def short_id(self) -> str:
        """Return the first eight characters of the id, for labels and messages."""
        return str(self.id)[:8] if self.id else "new"

    def validated(self, *, today: dt.date) -> MedicationOrder:
        """Return a normalised copy, or raise RuleViolation naming every field at fault."""
        errors = Collector()
        clean = self._rules(errors, today)
        errors.raise_if_any()
        return clean

    def _rules(self, errors: Collector, today: dt.date) -> MedicationOrder:
        # A prescription written here has every detail; one recorded from elsewhere has what its
        # source said, and each detail it does give is checked the same way.
        required = not self.is_outside
        frequency = _frequency(errors, self.frequency, required=required)
        clean = dataclasses.replace(
            self,
            drug_name=_text(errors, "drug_name", self.drug_name, DRUG_NAME_MAX, required=True),
            strength=_text(errors, "strength", self.strength, STRENGTH_MAX, required=required),
            recorded_from=_text(errors, "recorded_from", self.recorded_from, TEXT_MAX, single_line=False),
            rxnorm_code=_rxnorm(errors, self.rxnorm_code),
            instructions=_text(errors, "instructions", self.instructions, TEXT_MAX, single_line=False),
            discontinue_note=_text(errors, "discontinue_note", self.discontinue_note, TEXT_MAX, single_line=False),
            allergy_override_reason=_text(
                errors, "allergy_override_reason", self.allergy_override_reason, TEXT_MAX, single_line=False
            ),
            duplicate_override_reason=_text(
                errors, "duplicate_override_reason", self.duplicate_override_reason, TEXT_MAX, single_line=False
            ),
            frequency=frequency,
        )
        for field in ("dose_form", "dose_unit", "route"):
            if getattr(self, field) is None and required:
                errors.add(field, REQUIRED)
        if self.dose_amount is not None or required:
            _positive(errors, "dose_amount", self.dose_amount, DOSE_MAX, "The dose must be more than zero.")
        if self.dose_amount is not None and self.dose_unit is None and not required:
            errors.add("dose_unit", "A dose needs its unit.")
        if self.quantity is not None or required:
            _positive(errors, "quantity", self.quantity, QUANTITY_MAX, "The quantity must be more than zero.")
        if self.start_date is None:
            errors.add("start_date", REQUIRED)
        elif self.end_date is not None and self.end_date < self.start_date:
            errors.add("end_date", f"The end date cannot be before the start date ({self.start_date:%Y-%m-%d}).")
        _refills(errors, self.refills, self.schedule)
        self._status_rules(errors, today)
        if self.replaces_id is not None and self.replaces_id == self.id:
            errors.add(NON_FIELD, "An order cannot replace itself.")
        return clean

    def _status_rules(self, errors: Collector, today: dt.date) -> None:
        if self.status is OrderStatus.DISCONTINUED:
            if self.discontinued_on is None:
                errors.add("discontinued_on", "A discontinued order needs the date it was stopped.")
            else:
                earliest = min(filter(None, (self.start_date, self.written_on or today)))
                if self.discontinued_on > today:
                    errors.add("discontinued_on", "The stop date cannot be in the future: set an end date instead.")
                elif self.discontinued_on < earliest:
                    errors.add(
                        "discontinued_on", f"The stop date cannot be before the order began ({earliest:%Y-%m-%d})."
                    )
            if self.discontinue_reason is None:
                errors.add("discontinue_reason", "Give the reason the order is discontinued.")
            elif self.discontinue_reason is DiscontinueReason.OTHER and not self.discontinue_note.strip():
                errors.add("discontinue_note", "Describe the reason when it is 'Other'.")
        else:
            if self.discontinued_on is not None or self.discontinue_reason is not None:
                errors.add(
                    NON_FIELD,
                    f"Only a discontinued order has a stop date and reason; this one is {self.status.label.lower()}.",
                )


def format_decimal(value: decimal.Decimal | None) -> str:
    """Return `value` without trailing zeros or exponent ("0.5", "100")."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(errors: Collector, field: str, value: str, limit: int, *, required=False, single_line=True) -> str:
    value = " ".join((value or "").split()) if single_line else (value or "").strip()
    if required and not value:
        errors.add(field, REQUIRED)
    elif len(value) > limit:
        errors.add(field, f"Use at most {limit} characters (this has {len(value)}).")
    return value


def _rxnorm(errors: Collector, value: str) -> str:
    value = (value or "").strip()
    if value and (not (value.isascii() and value.isdigit()) or len(value) > RXNORM_MAX_DIGITS):
        errors.add("rxnorm_code", f"An RxNorm code (RxCUI) is a number of up to {RXNORM_MAX_DIGITS} digits.")
    return value


def _positive(errors: Collector, field: str, value, limit: decimal.Decimal, message: str) -> None:
    if value is None:
        errors.add(field, REQUIRED)
    elif not value.is_finite() or value <= 0:
        errors.add(field, message)
    elif value > limit:
        errors.add(field, f"This is more than {format_decimal(limit)}; check the number.")
    elif -value.as_tuple().exponent > DECIMAL_PLACES[field]:
        errors.add(field, f"Use at most {DECIMAL_PLACES[field]} decimal places.")


def _refills(errors: Collector, refills, schedule: Schedule) -> None:
    if refills is None or refills < 0:
        errors.add("refills", "Refills cannot be negative.")
    elif schedule is Schedule.II and refills:
        errors.add(
            "refills", "A schedule II prescription cannot be refilled: write a new prescription when it runs out."
        )
    elif refills > MAX_REFILLS[schedule]:
        what = f"a {schedule.label.lower()} drug" if schedule.controlled else "a prescription"
        errors.add("refills", f"At most {MAX_REFILLS[schedule]} refills are allowed for {what}.")


def _frequency(errors: Collector, frequency: Frequency, *, required: bool = True) -> Frequency:
    kind = frequency.kind
    as_needed = frequency.as_needed or kind is FrequencyKind.AS_NEEDED
    indication = _text(errors, "prn_indication", frequency.indication, INDICATION_MAX)
    if kind is None:
        if required:
            errors.add("frequency_kind", REQUIRED)
        elif frequency.interval is not None:
            errors.add(
                "frequency_interval",
                "A number of hours or weeks needs its frequency ('every N hours' or 'every N weeks').",
            )
    elif kind.value in INTERVAL_LIMITS:
        low, high = INTERVAL_LIMITS[kind.value]
        unit = "hours" if kind is FrequencyKind.EVERY_N_HOURS else "weeks"
        if frequency.interval is None:
            errors.add("frequency_interval", f"Give the number of {unit}.")
        elif not low <= frequency.interval <= high:
            errors.add("frequency_interval", f"Every {low} to {high} {unit}.")
    elif frequency.interval is not None:
        errors.add(
            "frequency_interval", f"Only 'every N hours' and 'every N weeks' take a number; '{kind.label}' does not."
        )
    if as_needed and not indication:
        errors.add("prn_indication", "An as-needed order needs its indication (what it is taken for).")
    elif indication and not as_needed:
        errors.add("prn_indication", "Only an as-needed order has an indication; tick 'as needed' or clear it.")
    return dataclasses.replace(frequency, as_needed=as_needed, indication=indication)


def check_new_order(order: MedicationOrder, *, today: dt.date) -> MedicationOrder:
    """Return the normalised order if it is valid and its prescriber may write it; else raise."""
    if order.is_outside:
        return check_outside_order(order, today=today)
    errors = Collector()
    clean = order._rules(errors, today)
    _date_rules(errors, order, today)
    _prescribing_rules(errors, order)
    errors.raise_if_any()
    return clean


def check_outside_order(order: MedicationOrder, *, today: dt.date) -> MedicationOrder:
    """Return the normalised order recorded from another system's record if it is valid; else raise.

    Nothing is prescribed: no NovaMind prescriber, no prescribing rights (nor DEA number) to check,
    and the status is the one its source gave it; it may revise another order recorded from the
    same record (`replaces_id`, as the source linked them). The order's own rules and date bounds apply to
    what it says, and a drug of a known controlled-substance schedule must carry that schedule.
    """
    errors = Collector()
    clean = order._rules(errors, today)
    _date_rules(errors, order, today)
    if not order.is_outside:
        errors.add("recorded_from", "Say which system's record the order comes from.")
    if order.prescriber is not None:
        errors.add("prescriber", "An order recorded from another system has no NovaMind prescriber.")
    known = drug_classes.known_schedule(order.drug_name) if order.drug_name else None
    if known and known != order.schedule.value:
        errors.add(
            "schedule",
            f"{order.drug_name.strip()} is a schedule {known} controlled substance; set its schedule to {known}.",
        )
    errors.raise_if_any()
    return clean


def _date_rules(errors: Collector, order: MedicationOrder, today: dt.date) -> None:
    # The dates a prescriber writes (a new order's, a revision's) lie between EARLIEST_DATE and
    # LATEST_YEARS from today, so no typo can reach year 9999 or the Middle Ages.
    latest = years_from(today, LATEST_YEARS)
    for field in ("start_date", "end_date"):
        value = getattr(order, field)
        problem = date_bounds_error(value, earliest=EARLIEST_DATE, latest=latest) if value is not None else None
        if problem:
            errors.add(field, problem)


def _prescribing_rules(errors: Collector, order: MedicationOrder) -> None:
    prescriber = order.prescriber
    if prescriber is None:
        errors.add("prescriber", "An order needs its prescriber.")
    elif not prescriber.is_prescriber:
        errors.add(
            "prescriber",
            f"Only prescribers prescribe: the staff profile of {prescriber.username} does not say prescriber.",
        )
    elif order.schedule.controlled and not prescriber.has_dea_registration:
        errors.add(
            "prescriber",
            f"A {order.schedule.label.lower()} controlled substance needs a prescriber with a valid DEA number on their staff profile; {prescriber.username} has none.",
        )
    known = drug_classes.known_schedule(order.drug_name) if order.drug_name else None
    if known and known != order.schedule.value:
        errors.add(
            "schedule",
            f"{order.drug_name.strip()} is a schedule {known} controlled substance; set its schedule to {known}.",
        )


@dataclasses.dataclass
class Allergy:
    """A substance the patient reacts to. It belongs to the patient's record."""

    patient_id: uuid.UUID | None
    substance: str
    reaction: str = ""
    severity: AllergySeverity = AllergySeverity.UNKNOWN
    status: AllergyStatus = AllergyStatus.ACTIVE
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    def validated(self) -> Allergy:
        """Return a normalised copy, or raise RuleViolation naming every field at fault."""
        errors = Collector()
        clean = dataclasses.replace(
            self,
            substance=_text(errors, "substance", self.substance, SUBSTANCE_MAX, required=True),
            reaction=_text(errors, "reaction", self.reaction, REACTION_MAX),
        )
        errors.raise_if_any()
        return clean


@dataclasses.dataclass(frozen=True)
class AllergyMatch:
    """A recorded allergy that a drug matches, and why."""

    allergy: Allergy
    why: str

    def describe(self, drug_name: str) -> str:
        """Return the sentence staff read."""
        allergy = self.allergy
        details = allergy.severity.label.lower()
        if allergy.reaction:
            details += f": {allergy.reaction}"
        return f"{drug_name} matches the recorded allergy to “{allergy.substance}” ({details}): {self.why}."


@dataclasses.dataclass(frozen=True)
class Duplicate:
    """A current order that a new one duplicates, and why."""

    order: MedicationOrder
    why: str

    def describe(self, drug_name: str) -> str:
        """Return the sentence staff read."""
        other = self.order
        since = f", since {other.start_date:%Y-%m-%d}" if other.start_date else ""
        status = " (on hold)" if other.status is OrderStatus.ON_HOLD else ""
        return f"{drug_name} duplicates the current order of {other.medication}{status}{since}: {self.why}."


@dataclasses.dataclass(frozen=True)
class DoseChange:
    """A dose far from the one it follows: `times` higher or lower than the clinic's `factor` allows, or
    (`times` None) in another unit."""

    previous: MedicationOrder
    times: decimal.Decimal | None
    factor: decimal.Decimal

    def describe(self, order: MedicationOrder) -> str:
        """Return the sentence staff read."""
        previous = self.previous
        which = "the order it revises" if order.replaces_id == previous.id else "the last order of this drug"
        since = f" since {previous.start_date:%Y-%m-%d}" if previous.start_date else ""
        compared = f"compared with {which} ({previous.medication}, {previous.status.label.lower()}{since})"
        if self.times is None:
            return (
                f"The dose unit changes from {previous.dose_unit.label} to {order.dose_unit.label} "
                f"({previous.dose} to {order.dose}), {compared}."
            )
        rounded = self.times.quantize(decimal.Decimal(1) if self.times >= 10 else decimal.Decimal("0.1"))
        direction = "higher" if order.dose_amount > previous.dose_amount else "lower"
        return (
            f"The dose changes from {previous.dose} to {order.dose}, {format_decimal(rounded)} times {direction}, "
            f"{compared}: a change of more than {format_decimal(self.factor)} times needs confirming."
        )


DOSE_CONFIRMATION = "dose_change_confirmed"


def dose_factor_problem(factor) -> str | None:
    """Return why `factor` cannot be the clinic's dose-change factor, or None when it can."""
    try:
        value = decimal.Decimal(str(factor))
    except decimal.InvalidOperation:
        return f"The dose-change factor must be a number, not {factor!r}."
    if not value.is_finite() or value <= 1:
        return f"The dose-change factor is {factor}: it must be more than 1 (a dose that many times higher or lower needs confirming)."
    return None


def previous_order(order: MedicationOrder, orders: list[MedicationOrder]) -> MedicationOrder | None:
    """Return the order whose dose `order` follows: the one it revises, else the patient's latest of the drug.

    Among the patient's other orders of the same drug, a current one comes before a stopped one,
    then the one that started last.
    """
    if order.replaces_id is not None:
        return next((other for other in orders if other.id == order.replaces_id), None)
    drug = drug_classes.canonical(order.drug_name)
    same = [
        other
        for other in orders
        if (other.id is None or other.id != order.id) and drug_classes.canonical(other.drug_name) == drug
    ]
    return max(
        same,
        key=lambda other: (other.is_current, other.start_date or dt.date.min, other.written_on or dt.date.min),
        default=None,
    )


def dose_change(order: MedicationOrder, previous: MedicationOrder | None, *, factor) -> DoseChange | None:
    """Return how `order`'s dose is far from `previous`'s (more than `factor` times, or another unit), or None."""
    if previous is None or not order.dose or not previous.dose:
        return None
    limit = decimal.Decimal(str(factor))
    if order.dose_unit is not previous.dose_unit:
        return DoseChange(previous, None, limit)
    new, old = order.dose_amount, previous.dose_amount
    if not (new.is_finite() and old.is_finite() and new > 0 and old > 0):
        return None  # the dose rules report it
    times = max(new / old, old / new)
    return DoseChange(previous, times, limit) if times > limit else None


def allergy_matches(drug_name: str, allergies: list[Allergy]) -> list[AllergyMatch]:
    """Return the active allergies that `drug_name` matches, by name or by drug class."""
    drug = drug_classes.canonical(drug_name)
    drug_class_keys = {drug_class.key for drug_class in drug_classes.classes_of(drug)}
    matches = []
    for allergy in allergies:
        if allergy.status is not AllergyStatus.ACTIVE:
            continue
        named_class = drug_classes.class_named(allergy.substance)
        allergen = drug_classes.canonical(allergy.substance)
        if allergen == drug:
            matches.append(AllergyMatch(allergy, "the same drug"))
        elif named_class is not None and named_class.key in drug_class_keys:
            matches.append(AllergyMatch(allergy, f"it is one of the {named_class.name}"))
        else:
            shared = [c for c in drug_classes.classes_of(allergen) if c.cross_sensitive and c.key in drug_class_keys]
            if shared:
                matches.append(AllergyMatch(allergy, f"both are {shared[0].name}, which are cross-sensitive"))
    return matches


def duplicates(order: MedicationOrder, current_orders: list[MedicationOrder]) -> list[Duplicate]:
    """Return the current orders that `order` duplicates: the same drug, or a class where that matters."""
    drug = drug_classes.canonical(order.drug_name)
    classes = {c.key: c for c in drug_classes.classes_of(drug) if c.duplicate_matters}
    found = []
    for other in current_orders:
        if not other.is_current or (other.id is not None and other.id in (order.id, order.replaces_id)):
            continue
        other_drug = drug_classes.canonical(other.drug_name)
        if other_drug == drug:
            found.append(Duplicate(other, "the same drug"))
            continue
        shared = [classes[c.key] for c in drug_classes.classes_of(other_drug) if c.key in classes]
        if shared:
            found.append(Duplicate(other, f"two {shared[0].name} at once"))
    return found


def check_against_record(
    order: MedicationOrder,
    *,
    allergies: list[Allergy],
    orders: list[MedicationOrder],
    dose_change_factor,
) -> MedicationOrder:
    """Return `order` if its conflicts with the patient's record are overridden or confirmed; else raise.

    `orders` are the patient's orders (current or not). A drug matching an active allergy, or
    duplicating a current order, needs a reason; a dose more than `dose_change_factor` times
    the one it follows (`previous_order`), or in another unit, needs `dose_change_confirmed`.
    An override or a confirmation with nothing to override is dropped, so what is kept on an
    order always answers a conflict that existed when it was written.
    """
    errors = Collector()
    name = order.drug_name.strip() or "This drug"
    matches = allergy_matches(order.drug_name, allergies)
    found = duplicates(order, [other for other in orders if other.is_current])
    change = dose_change(order, previous_order(order, orders), factor=dose_change_factor)
    if change and not order.dose_change_confirmed:
        errors.add(DOSE_CONFIRMATION, change.describe(order))
        errors.add(DOSE_CONFIRMATION, "Check the dose; to prescribe it as it is, confirm the change.")
    if matches and not order.allergy_override_reason.strip():
        for match in matches:
            errors.add("allergy_override_reason", match.describe(name))
        errors.add("allergy_override_reason", "To prescribe it anyway, give your reason for overriding the allergy.")
    if found and not order.duplicate_override_reason.strip():
        for duplicate in found:
            errors.add("duplicate_override_reason", duplicate.describe(name))
        errors.add("duplicate_override_reason", "To prescribe it as well, give your reason for the duplicate therapy.")
    errors.raise_if_any()
    return dataclasses.replace(
        order,
        allergy_override_reason=order.allergy_override_reason.strip() if matches else "",
        duplicate_override_reason=order.duplicate_override_reason.strip() if found else "",
        dose_change_confirmed=bool(change),
    )


# --- Transitions ------------------------------------------------------------------------------

REVISABLE_FIELDS = (
    "strength",
    "dose_form",
    "dose_amount",
    "dose_unit",
    "route",
    "frequency",
    "end_date",
    "quantity",
    "refills",
    "instructions",
)
IDENTITY_FIELDS = ("patient_id", "drug_name", "rxnorm_code", "schedule")


def _require_current(order: MedicationOrder, verb: str) -> None:
    if not order.is_current:
        raise RuleViolation(
            f"This order is {order.status.label.lower()}; it cannot be {verb}. Prescribe a new order instead."
        )


def discontinue(
    order: MedicationOrder, *, on: dt.date | None, reason: DiscontinueReason | None, note: str = "", today: dt.date
) -> MedicationOrder:
    """Return the order stopped on `on` for `reason`; a closed order cannot be stopped again."""
    _require_current(order, "discontinued")
    return dataclasses.replace(
        order,
        status=OrderStatus.DISCONTINUED,
        discontinued_on=on,
        discontinue_reason=reason,
        discontinue_note=note or "",
    ).validated(today=today)


def hold(order: MedicationOrder) -> MedicationOrder:
    """Return the active order put on hold."""
    if order.status is not OrderStatus.ACTIVE:
        raise RuleViolation(f"Only an active order can be put on hold; this one is {order.status.label.lower()}.")
    return dataclasses.replace(order, status=OrderStatus.ON_HOLD)


def resume(order: MedicationOrder) -> MedicationOrder:
    """Return the held order active again."""
    if order.status is not OrderStatus.ON_HOLD:
        raise RuleViolation(f"Only an order on hold can be resumed; this one is {order.status.label.lower()}.")
    return dataclasses.replace(order, status=OrderStatus.ACTIVE)


def complete(order: MedicationOrder, *, today: dt.date) -> MedicationOrder:
    """Return the order completed: its planned course has run to its end date."""
    _require_current(order, "completed")
    if order.end_date is None:
        raise RuleViolation("This order has no end date, so it does not complete: discontinue it to stop it.")
    if order.end_date > today:
        raise RuleViolation(f"This order runs until {order.end_date:%Y-%m-%d}: to stop it earlier, discontinue it.")
    return dataclasses.replace(order, status=OrderStatus.COMPLETED)


def revise(
    current: MedicationOrder,
    revised: MedicationOrder,
    *,
    effective: dt.date | None,
    prescriber: Prescriber,
    today: dt.date,
) -> tuple[MedicationOrder, MedicationOrder]:
    """Return (`current` discontinued as changed, the new order linked to it).

    `revised` is `current` with new details. The drug stays the same: a different drug is a new
    prescription. The revision takes effect on `effective` (today or earlier, not before the
    current order began): the current order stops and the new one starts that day.
    """
    _require_current(current, "revised")
    errors = Collector()
    for field in IDENTITY_FIELDS:
        if getattr(revised, field) != getattr(current, field):
            errors.add(
                field if field != "patient_id" else NON_FIELD,
                "A revision keeps the patient and the drug: to switch drugs, discontinue this order and prescribe the other.",
            )
    if all(getattr(revised, field) == getattr(current, field) for field in REVISABLE_FIELDS):
        errors.add(
            NON_FIELD, "Nothing was changed: a revision changes the dose, frequency or another detail of the order."
        )
    earliest = min(filter(None, (current.start_date, current.written_on or today)))
    if effective is not None and effective > today:
        errors.add(
            "start_date", "A revision takes effect today or on an earlier date; record a future change when it happens."
        )
    elif effective is not None and effective < earliest:
        errors.add(
            "start_date", f"A revision cannot take effect before the order it revises began ({earliest:%Y-%m-%d})."
        )
    new = dataclasses.replace(
        revised,
        id=None,
        audit=None,
        status=OrderStatus.ACTIVE,
        start_date=effective,
        prescriber=prescriber,
        recorded_from="",  # the revision is a prescription written here
        replaces_id=current.id,
        replaced_by_id=None,
        written_on=today,
        discontinued_on=None,
        discontinue_reason=None,
        discontinue_note="",
    )
    # The new order is a new prescription: every order rule and the prescriber's rights apply,
    # reported together with the faults of the revision itself.
    new = new._rules(errors, today)
    _date_rules(errors, new, today)
    _prescribing_rules(errors, new)
    errors.raise_if_any()
    closed = discontinue(current, on=effective, reason=DiscontinueReason.CHANGED, today=today)
    return closed, new


def revision_chains(orders: list[MedicationOrder]) -> list[list[MedicationOrder]]:
    """Group orders into chains, first order to latest revision, oldest chain first."""
    by_id = {order.id: order for order in orders}
    chains = []
    for order in orders:
        if order.replaces_id in by_id:
            continue
        chain = [order]
        while chain[-1].replaced_by_id in by_id:
            chain.append(by_id[chain[-1].replaced_by_id])
        chains.append(chain)
    chains.sort(key=lambda chain: (chain[0].start_date or dt.date.min, str(chain[0].id)))
    return chains
