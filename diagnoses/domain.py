"""Diagnoses: the patient's problem list, coded in ICD-10-CM, and its rules.

A diagnosis names one billable ICD-10-CM code (`codeset`) with its official description, the
clinician's own specifier, the onset and the status it is in since a date. The problem list is
what is current (active or in remission): a code appears on it once, one diagnosis at most is
the primary one, and a diagnosis that was ruled out is never primary. Nothing is deleted: a
diagnosis is resolved or ruled out, and its history keeps every change.

Errors are keyed by the stored field names, so the admin shows each one next to its field.
Standard library only (the code set is plain data).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from diagnoses import codeset
from novamind.domain import EARLIEST_DATE, REQUIRED, AuditInfo, Choice, Collector, RuleViolation, date_bounds_error

DESCRIPTION_MAX = 255
SPECIFIER_MAX = 1000


class DiagnosisStatus(Choice):
    """Where a diagnosis stands."""

    ACTIVE = "active", "Active"
    IN_REMISSION = "in_remission", "In remission"
    RESOLVED = "resolved", "Resolved"
    RULED_OUT = "ruled_out", "Ruled out"


# The problem list: what notes address, plans treat and a payer is billed for.
CURRENT_STATUSES = (DiagnosisStatus.ACTIVE, DiagnosisStatus.IN_REMISSION)


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    """One coded diagnosis of one patient."""

    patient_id: uuid.UUID | None
    code: str
    description: str = ""
    specifier: str = ""
    onset_date: dt.date | None = None
    status: DiagnosisStatus = DiagnosisStatus.ACTIVE
    status_since: dt.date | None = None
    is_primary: bool = False
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def is_current(self) -> bool:
        """Return whether it is on the problem list (active or in remission)."""
        return self.status in CURRENT_STATUSES

    @property
    def label(self) -> str:
        """Return the code and its official description, as staff read them."""
        return f"{self.code} {self.description}".strip()

    def validated(self, *, today: dt.date) -> Diagnosis:
        """Return a normalised copy (official description from the code set), or raise RuleViolation."""
        errors = Collector()
        code = codeset.normalize(self.code)
        description = self.description
        if not code:
            errors.add("code", REQUIRED)
        elif why := codeset.why_not_billable(code):
            errors.add("code", why)
        else:
            description = codeset.describe(code)
        specifier = (self.specifier or "").strip()
        if len(specifier) > SPECIFIER_MAX:
            errors.add("specifier", f"Use at most {SPECIFIER_MAX} characters (this has {len(specifier)}).")
        for field, value in (("onset_date", self.onset_date), ("status_since", self.status_since)):
            if value is not None and (problem := date_bounds_error(value, earliest=EARLIEST_DATE, latest=today)):
                errors.add(field, problem)
        if self.status is DiagnosisStatus.RESOLVED and self.status_since is None:
            errors.add("status_since", "Enter the date it resolved.")
        if self.onset_date and self.status_since and self.status_since < self.onset_date:
            errors.add("status_since", "This is before the onset.")
        if self.is_primary and self.status is DiagnosisStatus.RULED_OUT:
            errors.add("is_primary", "A ruled-out diagnosis cannot be the primary one.")
        errors.raise_if_any()
        return dataclasses.replace(self, code=code, description=description or "", specifier=specifier)


def check_problem_list(diagnosis: Diagnosis, others: list[Diagnosis]) -> None:
    """Raise RuleViolation when `diagnosis` would put a code on the problem list twice.

    `others` are the patient's other diagnoses (the one being saved excluded).
    """
    if not diagnosis.is_current:
        return
    for other in others:
        if other.id != diagnosis.id and other.is_current and other.code == diagnosis.code:
            raise RuleViolation(
                {"code": [f"{diagnosis.code} is already on the problem list ({other.status.label.lower()})."]}
            )
