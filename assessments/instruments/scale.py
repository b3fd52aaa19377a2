"""What a standardised questionnaire is, as data: its items, their answer options, how it is scored.

An instrument module (phq9, gad7, pcl5, auditc) fills these in from the instrument's published
form and scoring instructions, each value with its source beside it; `assessments.domain` scores
a response with them. Plain data, standard library only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

# The scoring basis of an instrument whose bands do not depend on who answers.
ANY = ""


@dataclasses.dataclass(frozen=True)
class Option:
    """One answer an item offers: the words on the form and the points it scores."""

    points: int
    label: str
    loinc: str = ""  # the LOINC answer code (LA…), where it was verified


@dataclasses.dataclass(frozen=True)
class Item:
    """One question, numbered as on the published form.

    An unscored item (the PHQ-9's difficulty question) is asked and kept, and adds nothing to the
    total; it may be left unanswered. `options` empty: the instrument's shared options.
    """

    number: int
    text: str
    loinc: str = ""
    scored: bool = True
    options: tuple[Option, ...] = ()


@dataclasses.dataclass(frozen=True)
class Band:
    """A range of totals (both ends included) and what it is called."""

    low: int
    high: int
    key: str
    label: str

    def holds(self, total: int) -> bool:
        """Return whether `total` falls in this band."""
        return self.low <= total <= self.high


@dataclasses.dataclass(frozen=True)
class MissingItems:
    """What the instrument's published instructions say about a form with unanswered items.

    Up to `prorate_up_to` unanswered scored items are given the mean of the answered ones (the
    total is prorated); more, and the form is refused. 0: every scored item must be answered.
    `never` are items that may never be left unanswered, whatever the rule (a risk question).
    """

    prorate_up_to: int
    source: str
    never: tuple[int, ...] = ()


@dataclasses.dataclass(frozen=True)
class RiskItem:
    """An item whose answer above `above` points means a risk staff must act on the same day."""

    number: int
    above: int
    what: str  # how staff name it: "thoughts of being better off dead or of self-harm"


@dataclasses.dataclass(frozen=True)
class Instrument:
    """A questionnaire as published, and how its total is scored and read."""

    code: str  # NovaMind's short name, stored with each response: "phq9"
    name: str  # as staff call it: "PHQ-9"
    title: str
    stem: str  # the question the items complete ("Over the last 2 weeks, how often…")
    options: tuple[Option, ...]  # the answers every item offers unless it has its own
    items: tuple[Item, ...]
    # The bands by scoring basis; ANY when they do not depend on who answers (AUDIT-C: they do).
    bands: Mapping[str, tuple[Band, ...]]
    missing: MissingItems
    panel_loinc: str
    total_loinc: str
    licence: str
    sources: tuple[str, ...]
    risk_items: tuple[RiskItem, ...] = ()
    remission_below: int | None = None  # a total below this is remission
    response_drop: float | None = None  # a fall from the baseline of this share or more is a response

    def item(self, number: int) -> Item:
        """Return the item numbered `number`."""
        return next(item for item in self.items if item.number == number)

    def options_of(self, item: Item) -> tuple[Option, ...]:
        """Return the answers `item` offers."""
        return item.options or self.options

    @property
    def scored_items(self) -> tuple[Item, ...]:
        """Return the items that make the total."""
        return tuple(item for item in self.items if item.scored)

    @property
    def max_total(self) -> int:
        """Return the highest total the instrument can score."""
        return sum(max(option.points for option in self.options_of(item)) for item in self.scored_items)

    def bands_for(self, basis: str = ANY) -> tuple[Band, ...]:
        """Return the bands that read a total scored on `basis` (the shared ones when it has no variants)."""
        return self.bands.get(basis) or self.bands[ANY]

    def band(self, key: str, basis: str = ANY) -> Band | None:
        """Return the band called `key` on `basis`, or None."""
        return next((band for band in self.bands_for(basis) if band.key == key), None)
