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
NOT_ON_THE_LIST = "Only a diagnosis on the problem list (active or in remission) can be the primary one."


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
    def short_id(self) -> str:
        """Return the first eight characters of the id: how messages name a diagnosis without its code."""
        return str(self.id)[:8] if self.id else "new"

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
        elif self.is_primary and not self.is_current:
            errors.add("is_primary", NOT_ON_THE_LIST)
        errors.raise_if_any()
        return dataclasses.replace(self, code=code, description=description or "", specifier=specifier)

    def as_recorded(self, *, today: dt.date) -> Diagnosis:
        """Return this new diagnosis validated, its status dated unless the date was given.

        Active since its onset (or today, without one); in remission or ruled out since today. A
        resolved diagnosis needs the date it resolved: that one is never guessed.
        """
        since = self.status_since
        if since is None and self.status is not DiagnosisStatus.RESOLVED:
            since = self.onset_date if self.status is DiagnosisStatus.ACTIVE and self.onset_date else today
        return dataclasses.replace(self, status_since=since).validated(today=today)


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


def with_status(diagnosis: Diagnosis, status: DiagnosisStatus, *, on: dt.date | None, today: dt.date) -> Diagnosis:
    """Return `diagnosis` in `status` since `on`, or raise RuleViolation.

    A diagnosis that leaves the problem list (resolved, ruled out) stops being the primary one.
    Any status may follow any other: a resolved diagnosis recurs, a rule-out is reconsidered.
    """
    if status is diagnosis.status:
        raise RuleViolation({"status": [f"It is already {status.label.lower()}."]})
    changed = dataclasses.replace(
        diagnosis, status=status, status_since=on, is_primary=diagnosis.is_primary and status in CURRENT_STATUSES
    )
    return changed.validated(today=today)


def made_primary(diagnosis: Diagnosis) -> Diagnosis:
    """Return `diagnosis` as the patient's primary diagnosis, or raise RuleViolation (the previous one is demoted by the caller)."""
    if diagnosis.is_primary:
        raise RuleViolation({"is_primary": ["It is already the primary diagnosis."]})
    if not diagnosis.is_current:
        raise RuleViolation({"is_primary": [NOT_ON_THE_LIST]})
    return dataclasses.replace(diagnosis, is_primary=True)


def check_change(before: Diagnosis, after: Diagnosis) -> None:
    """Raise RuleViolation when `after` changes what a recorded diagnosis is: its patient or its code.

    A wrong code is corrected by ruling the diagnosis out (or resolving it) and recording the right
    one, so a note that addressed the old code keeps addressing what it did (its hash covers it).
    """
    errors = Collector()
    if after.patient_id != before.patient_id:
        errors.add("patient", "A diagnosis stays on the record of the patient it was recorded for.")
    if codeset.normalize(after.code) != codeset.normalize(before.code):
        errors.add(
            "code",
            "The code of a recorded diagnosis does not change: rule this one out (or resolve it) and record the right code.",
        )
    errors.raise_if_any()
