"""The GAD-7 (Generalized Anxiety Disorder 7-item scale): anxiety severity, as published. Plain data.

Wording and answers: Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing
generalized anxiety disorder: the GAD-7. Arch Intern Med. 2006;166(10):1092-7; the form is part of
the PHQ family ("No permission required to reproduce, translate, display or distribute").

LOINC (loinc.org): panel 69737-5, total 70274-6 (0–21), as the issue verified them; items
69725-0, 68509-9, 69733-4, 69734-2, 69735-9, 69689-8, 69736-7 (read on loinc.org/69729-2, the
PHQ-SADS panel that holds the GAD-7 with its wording); answers LA6568-5…LA6571-9 scored 0–3, the
PHQ-9's.

Bands: 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe ("Scores of 5, 10, and 15 are taken as
the cut-off points for mild, moderate and severe anxiety", Spitzer et al. 2006; the issue).

Missing items: no published rule for an incomplete GAD-7 was found (the PHQ-9's proration rule of
the NHS Data Dictionary is the PHQ-9's own), so every item must be answered.
"""

from assessments.instruments.phq9 import OPTIONS
from assessments.instruments.scale import ANY, Band, Instrument, Item, MissingItems

INSTRUMENT = Instrument(
    code="gad7",
    name="GAD-7",
    title="Generalized Anxiety Disorder 7-item scale",
    stem="Over the last 2 weeks, how often have you been bothered by the following problems?",
    options=OPTIONS,
    items=(
        Item(1, "Feeling nervous, anxious, or on edge", "69725-0"),
        Item(2, "Not being able to stop or control worrying", "68509-9"),
        Item(3, "Worrying too much about different things", "69733-4"),
        Item(4, "Trouble relaxing", "69734-2"),
        Item(5, "Being so restless that it is hard to sit still", "69735-9"),
        Item(6, "Becoming easily annoyed or irritable", "69689-8"),
        Item(7, "Feeling afraid, as if something awful might happen", "69736-7"),
    ),
    bands={
        ANY: (
            Band(0, 4, "minimal", "Minimal"),
            Band(5, 9, "mild", "Mild"),
            Band(10, 14, "moderate", "Moderate"),
            Band(15, 21, "severe", "Severe"),
        )
    },
    missing=MissingItems(
        prorate_up_to=0,
        source="no published rule for unanswered GAD-7 items was found: every item must be answered",
    ),
    panel_loinc="69737-5",
    total_loinc="70274-6",
    licence="Free to use: “No permission required to reproduce, translate, display or distribute” (Pfizer).",
    sources=(
        "https://loinc.org/69737-5",
        "https://loinc.org/70274-6",
        "https://loinc.org/69729-2",
        "Spitzer RL et al. Arch Intern Med. 2006;166(10):1092-7",
    ),
    remission_below=5,
    response_drop=0.5,
)
