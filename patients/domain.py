"""Patients: the person the clinic cares for, their identity and contact details.

Plain Python. Phone and e-mail syntax use phonenumbers (libphonenumber's metadata) and
email-validator: framework-free libraries that know those formats better than a regex would.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import secrets
import uuid

import email_validator
import phonenumbers

from novamind.domain import EARLIEST_DATE, AuditInfo, Collector, RuleViolation, date_bounds_error

NAME_MAX = 100
MRN_PREFIX = "NM"


class PatientStatus(str, enum.Enum):
    """Whether the clinic currently cares for the patient."""

    ACTIVE = "active"
    INACTIVE = "inactive"
    DECEASED = "deceased"


class SexAssignedAtBirth(str, enum.Enum):
    """Sex assigned at birth, as the patient reports it."""

    FEMALE = "female"
    MALE = "male"
    INTERSEX = "intersex"
    UNKNOWN = "unknown"
    DECLINED = "declined"


@dataclasses.dataclass
class Address:
    """A postal address; every part is optional."""

    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclasses.dataclass
class EmergencyContact:
    """Whom to call in an emergency."""

    name: str = ""
    relation: str = ""
    phone: str = ""


@dataclasses.dataclass
class Patient:
    """A patient: legal identity, how they wish to be addressed, and how to reach them."""

    legal_first_name: str
    legal_last_name: str
    date_of_birth: dt.date | None
    preferred_name: str = ""
    pronouns: str = ""
    sex_assigned_at_birth: SexAssignedAtBirth = SexAssignedAtBirth.UNKNOWN
    gender_identity: str = ""
    phone: str = ""
    email: str = ""
    address: Address = dataclasses.field(default_factory=Address)
    emergency_contact: EmergencyContact = dataclasses.field(default_factory=EmergencyContact)
    status: PatientStatus = PatientStatus.ACTIVE
    mrn: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def display_name(self) -> str:
        """Return "Last, First (Preferred)" for lists and headings."""
        name = f"{self.legal_last_name}, {self.legal_first_name}"
        if self.preferred_name and self.preferred_name != self.legal_first_name:
            name += f" ({self.preferred_name})"
        return name

    def validated(self, *, today: dt.date, phone_region: str) -> Patient:
        """Return a normalised copy, or raise RuleViolation naming every field at fault.

        A copy this returned is returned as it is when validated again under the same terms and
        unchanged, so a caller (an import) and the service it calls do not pay for the rules
        twice; a copy made with `dataclasses.replace`, or changed in place, is checked afresh.
        """
        if self.__dict__.get("_validated_under") == (today, phone_region, _snapshot(self)):
            return self
        errors = Collector()
        clean = dataclasses.replace(
            self,
            legal_first_name=_name(errors, "legal_first_name", self.legal_first_name, required=True),
            legal_last_name=_name(errors, "legal_last_name", self.legal_last_name, required=True),
            preferred_name=_name(errors, "preferred_name", self.preferred_name),
            pronouns=_name(errors, "pronouns", self.pronouns, limit=40),
            gender_identity=_name(errors, "gender_identity", self.gender_identity),
            phone=_phone(errors, "phone", self.phone, phone_region),
            email=_email(errors, "email", self.email),
            address=Address(
                **{
                    part: _name(errors, f"address_{part}", getattr(self.address, part), limit=200)
                    for part in ("line1", "line2", "city", "region", "postal_code", "country")
                }
            ),
            emergency_contact=EmergencyContact(
                name=_name(errors, "emergency_contact_name", self.emergency_contact.name),
                relation=_name(errors, "emergency_contact_relation", self.emergency_contact.relation, limit=60),
                phone=_phone(errors, "emergency_contact_phone", self.emergency_contact.phone, phone_region),
            ),
        )
        _date_of_birth(errors, self.date_of_birth, today)
        contact = clean.emergency_contact
        if (contact.name or contact.relation) and not contact.phone:
            errors.add("emergency_contact_phone", "An emergency contact needs a phone number.")
        if contact.phone and not contact.name:
            errors.add("emergency_contact_name", "Give the name of the emergency contact.")
        if self.mrn and not is_valid_mrn(self.mrn):
            errors.add("mrn", "This is not a NovaMind medical record number.")
        errors.raise_if_any()
        clean.__dict__["_validated_under"] = (today, phone_region, _snapshot(clean))
        return clean


def _snapshot(patient: Patient) -> tuple:
    """Return the patient's values, so a validated copy changed in place is validated again."""
    own = tuple(value for name, value in vars(patient).items() if name != "_validated_under")
    return own, tuple(vars(patient.address).values()), tuple(vars(patient.emergency_contact).values())


def _name(errors: Collector, field: str, value: str, *, required=False, limit=NAME_MAX) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        errors.add(field, "This field is required.")
    elif len(value) > limit:
        errors.add(field, f"Use at most {limit} characters (this has {len(value)}).")
    return value


def normalize_phone(value: str, region: str) -> str:
    """Return `value` in E.164 form, or raise ValueError with a message for staff."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError("Enter a phone number, e.g. (617) 555-0134 or +44 20 7946 0958.") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError("This phone number has the wrong number of digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone(errors: Collector, field: str, value: str, region: str) -> str:
    if not (value or "").strip():
        return ""
    try:
        return normalize_phone(value, region)
    except ValueError as error:
        errors.add(field, str(error))
        return value


def _email(errors: Collector, field: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    try:
        return email_validator.validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized
    except email_validator.EmailNotValidError as error:
        errors.add(field, f"Enter a valid e-mail address ({error}).")
        return value


def _date_of_birth(errors: Collector, value: dt.date | None, today: dt.date) -> None:
    """A birth date lies between 1900-01-01 and today: anything else is a typing error."""
    if value is None:
        errors.add("date_of_birth", "This field is required.")
        return
    problem = date_bounds_error(value, earliest=EARLIEST_DATE, latest=today)
    if problem:
        errors.add("date_of_birth", problem)


def _luhn_check_digit(digits: str) -> str:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return str((10 - total % 10) % 10)


def generate_mrn(randbelow=secrets.randbelow) -> str:
    """Return a new random medical record number: NM, seven digits and a Luhn check digit.

    Random, not derived from PHI or from a sequence, so it reveals nothing about the patient or
    the size of the practice; the check digit catches most typing errors.
    """
    body = f"{randbelow(10**7):07d}"
    return f"{MRN_PREFIX}{body}{_luhn_check_digit(body)}"


def is_valid_mrn(value: str) -> bool:
    """Return whether `value` is a well-formed MRN with a correct check digit."""
    value = value.strip().upper()
    body = value[len(MRN_PREFIX) :]
    return (
        value.startswith(MRN_PREFIX)
        and len(body) == 8
        and body.isascii()
        and body.isdigit()
        and _luhn_check_digit(body[:-1]) == body[-1]
    )


HOLD_REASON_MAX = 1000


def check_hold_change(*, held: bool, place: bool, reason: str) -> str:
    """Return the tidied reason for placing (`place`) or releasing a hold; raise RuleViolation if refused."""
    errors = Collector()
    reason = (reason or "").strip()
    if not reason:
        errors.add(
            "reason",
            "Give the reason for placing the legal hold." if place else "Give the reason for releasing the legal hold.",
        )
    elif len(reason) > HOLD_REASON_MAX:
        errors.add("reason", f"Use at most {HOLD_REASON_MAX} characters (this has {len(reason)}).")
    if place and held:
        errors.add(RuleViolation.NON_FIELD, "The record is already under a legal hold.")
    if not place and not held:
        errors.add(RuleViolation.NON_FIELD, "The record is not under a legal hold.")
    errors.raise_if_any()
    return reason


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a listing."""

    items: list[Patient]
    number: int
    page_size: int
    total: int

    @property
    def has_next(self) -> bool:
        """Return whether a later page exists."""
        return self.number * self.page_size < self.total
