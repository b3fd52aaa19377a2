"""Measurement-based care: standardised questionnaires, scored as published, trended, and risk never missed.

A response is one administration of one instrument (`assessments.instruments`) to one patient on
one day: the answer to each item, and the total and band computed from them by the instrument's
published rule (`score`), including its rule for unanswered items (prorate, or refuse). A response
is never deleted: it is corrected (with a reason; the total and band are computed again) or voided
(with a reason).

Risk is never missed: an answer above 0 on a risk item (the PHQ-9's item 9; no other instrument
here has one) raises a safety alert, exactly one per response, which a clinician of the patient's
care team reviews, recording what was done. A correction decides what becomes of it
(`alert_change`): a risk answer corrected to 0 clears an alert nobody has reviewed yet (the reason
is kept); a reviewed alert stays as it was; a cleared alert whose risk answer comes back is opened
again. Voiding a response leaves its alert as it is: a risk answer on the wrong patient's form is
still someone's risk answer, and a clinician says what was done.

Trends (`trend`) flag each score's response (a fall of 50% or more from the first score, the
baseline) and remission (below the instrument's remission cut-point). Measures fall due on a
schedule per instrument for the patients with a diagnosis it follows (`due_measures`, `SCHEDULES`).

Errors are keyed by the stored field names, and an item's by `item_<n>`, so the admin shows each
one next to its field. Standard library only (the instruments are plain data).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fractions
import math
import uuid
from collections.abc import Iterable, Mapping

from assessments import instruments
from assessments.instruments import scale
from novamind.domain import EARLIEST_DATE, REQUIRED, AuditInfo, Choice, Collector, RuleViolation, date_bounds_error

NON_FIELD = RuleViolation.NON_FIELD
REASON_MAX = 2000
ACTION_MIN = 10  # "called, safe, plan agreed": a reviewer records what was done, not "ok"


def item_field(number: int) -> str:
    """Return the name of the form field (and error key) of item `number`: "item_9"."""
    return f"item_{number}"


class ResponseStatus(Choice):
    """Whether a response counts. Responses are voided, never deleted."""

    RECORDED = "recorded", "Recorded"
    VOIDED = "voided", "Voided (entered in error)"


class AlertStatus(Choice):
    """Where a safety alert stands."""

    OPEN = "open", "Awaiting review"
    REVIEWED = "reviewed", "Reviewed"
    CLEARED = "cleared", "Cleared by a correction"


# --- Scoring ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Answers:
    """The points given to each item (None: unanswered), and the basis the bands are read on."""

    items: Mapping[int, int | None]
    basis: str = scale.ANY

    def get(self, number: int) -> int | None:
        """Return the points of item `number`, or None when it was not answered."""
        return self.items.get(number)

    def to_data(self) -> dict[str, int | None]:
        """Return the points as plain JSON data, by item number ({"1": 2, "2": None, …}); the basis is kept apart."""
        return {str(number): points for number, points in sorted(self.items.items())}

    @classmethod
    def from_data(cls, data: Mapping, basis: str = scale.ANY) -> Answers:
        """Return the answers `to_data` wrote, read on `basis`."""
        return cls(items={int(number): points for number, points in data.items()}, basis=basis or scale.ANY)


@dataclasses.dataclass(frozen=True)
class Score:
    """A total, its band, and whether unanswered items were prorated."""

    total: int
    band: scale.Band
    unanswered: tuple[int, ...] = ()

    @property
    def prorated(self) -> bool:
        """Return whether unanswered items were given the mean of the answered ones."""
        return bool(self.unanswered)


def _round_half_up(value: fractions.Fraction) -> int:
    # The sources do not say how a prorated total is rounded; the bands are whole numbers, and a
    # half rounds up (toward the more severe band: a doubt is not read as the milder one).
    return math.floor(value + fractions.Fraction(1, 2))


def score(instrument: scale.Instrument, answers: Answers) -> Score:
    """Return the total and band of `answers` by the instrument's published rules, or raise RuleViolation.

    Every answer must be one the item offers. Unanswered scored items follow the instrument's
    rule (`scale.MissingItems`): up to `prorate_up_to` of them take the mean of the answered ones
    (the total is rounded half up); more, or any item the rule never lets go unanswered (a risk
    question), and the form is refused, naming each unanswered item.
    """
    errors = Collector()
    known = {item.number for item in instrument.items}
    for number in sorted(set(answers.items) - known):
        errors.add(NON_FIELD, f"The {instrument.name} has no item {number}.")
    for item in instrument.items:
        points = answers.get(item.number)
        allowed = {option.points for option in instrument.options_of(item)}
        if points is not None and points not in allowed:
            errors.add(item_field(item.number), f"Choose one of the answers the {instrument.name} offers.")
    errors.raise_if_any()
    scored = instrument.scored_items
    unanswered = tuple(item.number for item in scored if answers.get(item.number) is None)
    rule = instrument.missing
    for number in unanswered:
        if number in rule.never:
            errors.add(
                item_field(number),
                f"Item {number} must be answered: a risk question is never left out or estimated. Ask the patient.",
            )
    if len(unanswered) > rule.prorate_up_to:
        if rule.prorate_up_to:
            why = (
                f"At most {rule.prorate_up_to} items of the {instrument.name} may be left unanswered (the total is "
                f"then prorated); {len(unanswered)} are."
            )
        else:
            why = f"Every item of the {instrument.name} must be answered: {rule.source}."
        errors.add(NON_FIELD, why)
        for number in unanswered:
            if number not in rule.never:
                errors.add(item_field(number), "Answer this item.")
    errors.raise_if_any()
    answered = [answers.get(item.number) for item in scored if answers.get(item.number) is not None]
    total = sum(answered)
    if unanswered:
        total = _round_half_up(fractions.Fraction(total * len(scored), len(answered)))
    bands = instrument.bands_for(answers.basis)
    band = next(band for band in bands if band.holds(total))
    return Score(total=total, band=band, unanswered=unanswered)


def risk_answers(instrument: scale.Instrument, answers: Answers) -> tuple[scale.RiskItem, ...]:
    """Return the risk items whose answer calls for a safety alert (above their threshold)."""
    return tuple(
        risk
        for risk in instrument.risk_items
        if (points := answers.get(risk.number)) is not None and points > risk.above
    )


def describe_risk(instrument: scale.Instrument, answers: Answers) -> str:
    """Return what raised the alert, as staff read it ("PHQ-9 item 9 …: Several days"); "" for none."""
    parts = []
    for risk in risk_answers(instrument, answers):
        item = instrument.item(risk.number)
        label = next(o.label for o in instrument.options_of(item) if o.points == answers.get(risk.number))
        parts.append(f"{instrument.name}, {risk.what}: “{label}”")
    return "; ".join(parts)


# --- A response ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Response:
    """One administration of one instrument to one patient, with its computed total and band."""

    patient_id: uuid.UUID | None
    instrument: str  # an instruments code: "phq9"
    administered_on: dt.date | None
    answers: Answers
    total: int | None = None
    band: str = ""
    appointment_id: uuid.UUID | None = None
    administered_by: str = ""  # the username of who entered it
    status: ResponseStatus = ResponseStatus.RECORDED
    void_reason: str = ""
    voided_at: dt.datetime | None = None  # set when it is stored voided
    correction_reason: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def spec(self) -> scale.Instrument | None:
        """Return the instrument this response answers, or None when its code is unknown."""
        return instruments.get(self.instrument)

    @property
    def band_label(self) -> str:
        """Return the band as staff read it ("Moderately severe")."""
        spec = self.spec
        found = spec.band(self.band, self.answers.basis) if spec else None
        return found.label if found else self.band

    @property
    def short_id(self) -> str:
        """Return the first eight characters of the id, for labels and messages."""
        return str(self.id)[:8] if self.id else "new"

    def scored(self, *, today: dt.date) -> Response:
        """Return a copy with its total and band computed from its answers, or raise RuleViolation."""
        errors = Collector()
        spec = self.spec
        if not self.instrument:
            errors.add("instrument", REQUIRED)
        elif spec is None:
            errors.add("instrument", f"“{self.instrument}” is not a questionnaire NovaMind scores.")
        if self.patient_id is None:
            errors.add("patient", REQUIRED)
        if self.administered_on is None:
            errors.add("administered_on", REQUIRED)
        elif problem := date_bounds_error(self.administered_on, earliest=EARLIEST_DATE, latest=today):
            errors.add("administered_on", problem)
        result = None
        if spec is not None:
            try:
                result = score(spec, self.answers)
            except RuleViolation as violation:
                for field, messages in violation.errors.items():
                    for message in messages:
                        errors.add(field, message)
        reasons = (("void_reason", self.void_reason), ("correction_reason", self.correction_reason))
        for field, text in reasons:
            if len(text or "") > REASON_MAX:
                errors.add(field, f"Use at most {REASON_MAX} characters (this has {len(text)}).")
        if self.status is ResponseStatus.VOIDED and not (self.void_reason or "").strip():
            errors.add("void_reason", "Give the reason the response is voided.")
        errors.raise_if_any()
        return dataclasses.replace(
            self,
            total=result.total,
            band=result.band.key,
            void_reason=(self.void_reason or "").strip(),
            correction_reason=(self.correction_reason or "").strip(),
        )

    @property
    def risky(self) -> bool:
        """Return whether an answer calls for a safety alert."""
        spec = self.spec
        return bool(spec and risk_answers(spec, self.answers))


def correct(
    stored: Response,
    *,
    answers: Answers,
    administered_on: dt.date | None,
    appointment_id: uuid.UUID | None,
    reason: str,
    today: dt.date,
) -> Response:
    """Return `stored` with corrected answers, date or appointment, scored again; the reason is required.

    The questionnaire and the patient stay: a different questionnaire is a new response.
    """
    if stored.status is ResponseStatus.VOIDED:
        raise RuleViolation("This response is voided; it is not corrected. Record a new response instead.")
    changed = (answers, administered_on, appointment_id) != (
        stored.answers,
        stored.administered_on,
        stored.appointment_id,
    )
    if not changed:
        raise RuleViolation("Nothing was changed: a correction changes an answer, the date or the appointment.")
    if not (reason or "").strip():
        raise RuleViolation({"correction_reason": ["Say why the response is corrected (its history keeps it)."]})
    corrected = dataclasses.replace(
        stored,
        answers=dataclasses.replace(answers, basis=stored.answers.basis),
        administered_on=administered_on,
        appointment_id=appointment_id,
        correction_reason=reason,
    )
    return corrected.scored(today=today)


def void(stored: Response, *, reason: str, today: dt.date) -> Response:
    """Return `stored` voided for `reason` (entered in error); a voided response stays voided."""
    if stored.status is ResponseStatus.VOIDED:
        raise RuleViolation("This response is already voided.")
    return dataclasses.replace(stored, status=ResponseStatus.VOIDED, void_reason=reason or "").scored(today=today)


def verify(response: Response) -> list[str]:
    """Return what is wrong with the stored total and band of `response` (nothing: they match its answers)."""
    spec = response.spec
    if spec is None:
        return [f"its instrument “{response.instrument}” is unknown"]
    try:
        result = score(spec, response.answers)
    except RuleViolation as violation:
        return [f"its answers no longer score ({'; '.join(m for ms in violation.errors.values() for m in ms)})"]
    problems = []
    if response.total != result.total:
        problems.append(f"its stored total {response.total} is not the {result.total} its answers score")
    if response.band != result.band.key:
        problems.append(f"its stored band “{response.band}” is not “{result.band.key}”")
    return problems


# --- The safety alert ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SafetyAlert:
    """A risk answer on a response, waiting for a clinician of the patient's care team to review it."""

    patient_id: uuid.UUID | None
    response_id: uuid.UUID | None
    raised_at: dt.datetime | None
    reason: str = ""  # what raised it ("PHQ-9, thoughts of … (item 9): “Several days”")
    status: AlertStatus = AlertStatus.OPEN
    reviewed_by: str = ""
    reviewed_at: dt.datetime | None = None
    action_taken: str = ""
    cleared_at: dt.datetime | None = None
    cleared_by: str = ""
    clear_reason: str = ""
    id: uuid.UUID | None = None
    audit: AuditInfo | None = None

    @property
    def is_open(self) -> bool:
        """Return whether it still waits for a review."""
        return self.status is AlertStatus.OPEN

    def waiting(self, now: dt.datetime) -> dt.timedelta:
        """Return how long it has waited for its review."""
        return now - self.raised_at if self.raised_at else dt.timedelta(0)

    def overdue(self, now: dt.datetime, *, hours: int) -> bool:
        """Return whether it is open and has waited longer than `hours` (NOVAMIND_RISK_REVIEW_HOURS)."""
        return self.is_open and self.waiting(now) > dt.timedelta(hours=hours)

    def validated(self) -> SafetyAlert:
        """Return a normalised copy, or raise RuleViolation."""
        errors = Collector()
        action = (self.action_taken or "").strip()
        clear_reason = (self.clear_reason or "").strip()
        for field, text in (("action_taken", action), ("clear_reason", clear_reason)):
            if len(text) > REASON_MAX:
                errors.add(field, f"Use at most {REASON_MAX} characters (this has {len(text)}).")
        if self.status is AlertStatus.REVIEWED and (not action or self.reviewed_at is None):
            errors.add("action_taken", "A reviewed alert records what was done, and when.")
        if self.status is AlertStatus.CLEARED and (not clear_reason or self.cleared_at is None):
            errors.add("clear_reason", "A cleared alert records why, and when.")
        errors.raise_if_any()
        return dataclasses.replace(self, action_taken=action, clear_reason=clear_reason)


def review(alert: SafetyAlert, *, action_taken: str, reviewer: str, now: dt.datetime) -> SafetyAlert:
    """Return the alert reviewed by `reviewer` now, recording what was done; only an open alert is reviewed."""
    if alert.status is not AlertStatus.OPEN:
        raise RuleViolation(f"This alert is {alert.status.label.lower()}; it is reviewed once.")
    action = (action_taken or "").strip()
    if len(action) < ACTION_MIN:
        raise RuleViolation(
            {"action_taken": [f"Record what was done (at least {ACTION_MIN} characters): who was contacted, the plan."]}
        )
    return dataclasses.replace(
        alert, status=AlertStatus.REVIEWED, reviewed_by=reviewer, reviewed_at=now, action_taken=action
    ).validated()


class AlertChange(Choice):
    """What a correction of a response does to its safety alert."""

    NONE = "none", "no alert, none needed"
    RAISE = "raise", "raise an alert"
    KEEP = "keep", "keep the alert as it is"
    CLEAR = "clear", "clear the open alert"
    REOPEN = "reopen", "open the cleared alert again"


def alert_change(status: AlertStatus | None, *, risky: bool) -> AlertChange:
    """Return what becomes of a response's alert (`status` None: it has none) once its answers are `risky` or not.

    A risk answer raises an alert if there is none and opens a cleared one again; an answer
    corrected to no risk clears an alert nobody has reviewed yet. A reviewed alert is kept as it
    is: what the clinician did stays on record.
    """
    if status is None:
        return AlertChange.RAISE if risky else AlertChange.NONE
    if status is AlertStatus.OPEN:
        return AlertChange.KEEP if risky else AlertChange.CLEAR
    if status is AlertStatus.CLEARED:
        return AlertChange.REOPEN if risky else AlertChange.KEEP
    return AlertChange.KEEP


def clear(alert: SafetyAlert, *, reason: str, by: str, now: dt.datetime) -> SafetyAlert:
    """Return the open alert cleared because its risk answer was corrected, with the correction's reason."""
    return dataclasses.replace(
        alert,
        status=AlertStatus.CLEARED,
        cleared_at=now,
        cleared_by=by,
        clear_reason=f"The risk answer was corrected to none. {reason.strip()}".strip(),
    ).validated()


def reopen(alert: SafetyAlert, *, reason: str, now: dt.datetime) -> SafetyAlert:
    """Return the cleared alert opened again: its risk answer came back (its history keeps the clearing)."""
    return dataclasses.replace(
        alert,
        status=AlertStatus.OPEN,
        raised_at=now,
        reason=reason,
        cleared_at=None,
        cleared_by="",
        clear_reason="",
    )


# --- Trends ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrendPoint:
    """One score on a patient's chart of an instrument, with what it means against the baseline."""

    response_id: object
    on: dt.date
    total: int
    band: scale.Band | None
    baseline: bool = False
    response: bool = False  # a fall of the instrument's share (50%) or more from the baseline
    remission: bool = False  # below the instrument's remission cut-point

    @property
    def flags(self) -> tuple[str, ...]:
        """Return the words for what this score shows ("baseline", "response", "remission")."""
        return tuple(
            word
            for word, shown in (("baseline", self.baseline), ("response", self.response), ("remission", self.remission))
            if shown
        )


def trend(instrument: scale.Instrument, scores: Iterable[tuple[object, dt.date, int, str, str]]) -> list[TrendPoint]:
    """Return the points of a chart from (response id, date, total, band key, basis), oldest first.

    The first score is the baseline. A later score is a response when it is at least
    `response_drop` below a baseline above 0, and a remission when it is under `remission_below`.
    """
    ordered = sorted(scores, key=lambda row: (row[1], str(row[0])))
    points = []
    baseline = ordered[0][2] if ordered else None
    for index, (response_id, on, total, band_key, basis) in enumerate(ordered):
        responded = bool(
            index
            and instrument.response_drop is not None
            and baseline
            and (baseline - total) >= instrument.response_drop * baseline
        )
        points.append(
            TrendPoint(
                response_id=response_id,
                on=on,
                total=total,
                band=instrument.band(band_key, basis),
                baseline=index == 0,
                response=responded,
                remission=instrument.remission_below is not None and total < instrument.remission_below,
            )
        )
    return points


# --- Measures due ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Which instrument falls due how often, for the patients with a current diagnosis it follows."""

    instrument: str
    every_days: int
    code_prefixes: tuple[str, ...]  # ICD-10-CM categories: "F32" covers F32.0 to F32.A
    why: str

    def applies(self, codes: Iterable[str]) -> bool:
        """Return whether one of these (current) diagnosis codes is followed by this schedule."""
        compact = [(code or "").replace(".", "").upper() for code in codes]
        return any(code.startswith(prefix) for code in compact for prefix in self.code_prefixes)


# The clinic's schedule: a depressive disorder (major depressive disorder, single episode or
# recurrent) is measured with the PHQ-9 every 30 days, an anxiety disorder with the GAD-7.
SCHEDULES = (
    Schedule("phq9", 30, ("F32", "F33"), "a depressive disorder (F32–F33)"),
    Schedule("gad7", 30, ("F41",), "an anxiety disorder (F41)"),
)


@dataclasses.dataclass(frozen=True)
class DueMeasure:
    """An instrument due for a patient: when, since when it was last given, and why it is scheduled."""

    instrument: str
    due_on: dt.date
    last_on: dt.date | None
    why: str
    every_days: int = 0

    @property
    def name(self) -> str:
        """Return the instrument's name ("PHQ-9")."""
        spec = instruments.get(self.instrument)
        return spec.name if spec else self.instrument

    def days_overdue(self, today: dt.date) -> int:
        """Return how many days past due it is (0: due today)."""
        return max((today - self.due_on).days, 0)


def due_measures(
    codes: Iterable[str],
    last_given: Mapping[str, dt.date],
    *,
    today: dt.date,
    schedules: Iterable[Schedule] = SCHEDULES,
) -> list[DueMeasure]:
    """Return the measures due today or overdue for a patient with these current diagnosis codes.

    `last_given` maps an instrument to the date of the patient's latest (not voided) response to
    it. A scheduled instrument never given is due today; otherwise it is due `every_days` after
    the last one.
    """
    codes = list(codes)
    due = []
    for schedule in schedules:
        if not schedule.applies(codes):
            continue
        last = last_given.get(schedule.instrument)
        due_on = today if last is None else last + dt.timedelta(days=schedule.every_days)
        if due_on <= today:
            due.append(DueMeasure(schedule.instrument, due_on, last, schedule.why, schedule.every_days))
    return due
