"""The PHQ-9 (Patient Health Questionnaire-9): depression severity, as published. Plain data.

Wording and answers: the PHQ-9 form of Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke
and colleagues (Pfizer), whose notice reads "No permission required to reproduce, translate,
display or distribute" (quoted in LOINC's copyright field of the panel 44249-1).

LOINC (loinc.org): panel 44249-1 "PHQ-9 quick depression assessment panel"; total 44261-6 (0–27);
items 44250-9, 44255-8, 44259-0, 44254-1, 44251-7, 44258-2, 44252-5 (read on loinc.org/69729-2,
the PHQ-SADS panel that lists them with their wording), 44253-3 (item 8: the same page, and the
FHIR Questionnaire of 44249-1), 44260-8 (item 9); answers LA6568-5, LA6569-3, LA6570-1, LA6571-9
scored 0–3. Item 10's code 69722-7 is the one FHIR implementations of 44249-1 use; its loinc.org
page was not read.

Bands: loinc.org/44261-6 ("5-9 = Mild depression; 10-14 = Moderate; 15-19 = Moderately severe;
20-27 = Severe", 0–4 none to minimal), as the issue lists them.

Missing items: the NHS Data Dictionary, "Patient Health Questionnaire-9"
(datadictionary.nhs.uk/data_dictionary/nhs_business_definitions/p/patient_health_questionnaire-9_de.asp):
"If one or two values are missing from the score, then they can be substituted with the average
score of the non-missing items. Questionnaires with more than two missing values should be
disregarded." Item 9 is never estimated: an unanswered risk question is asked again.

Remission (a total under 5) and response (a fall of 50% or more from the baseline) are the
measurement-based-care conventions the issue names.
"""

from assessments.instruments.scale import ANY, Band, Instrument, Item, MissingItems, Option, RiskItem

OPTIONS = (
    Option(0, "Not at all", "LA6568-5"),
    Option(1, "Several days", "LA6569-3"),
    Option(2, "More than half the days", "LA6570-1"),
    Option(3, "Nearly every day", "LA6571-9"),
)

DIFFICULTY = (
    Option(0, "Not difficult at all"),
    Option(1, "Somewhat difficult"),
    Option(2, "Very difficult"),
    Option(3, "Extremely difficult"),
)

INSTRUMENT = Instrument(
    code="phq9",
    name="PHQ-9",
    title="Patient Health Questionnaire-9",
    stem="Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    options=OPTIONS,
    items=(
        Item(1, "Little interest or pleasure in doing things", "44250-9"),
        Item(2, "Feeling down, depressed, or hopeless", "44255-8"),
        Item(3, "Trouble falling or staying asleep, or sleeping too much", "44259-0"),
        Item(4, "Feeling tired or having little energy", "44254-1"),
        Item(5, "Poor appetite or overeating", "44251-7"),
        Item(
            6,
            "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
            "44258-2",
        ),
        Item(7, "Trouble concentrating on things, such as reading the newspaper or watching television", "44252-5"),
        Item(
            8,
            "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so "
            "fidgety or restless that you have been moving around a lot more than usual",
            "44253-3",
        ),
        Item(9, "Thoughts that you would be better off dead or of hurting yourself in some way", "44260-8"),
        Item(
            10,
            "If you checked off any problems, how difficult have these problems made it for you to do your "
            "work, take care of things at home, or get along with other people?",
            "69722-7",
            scored=False,
            options=DIFFICULTY,
        ),
    ),
    bands={
        ANY: (
            Band(0, 4, "none_minimal", "None–minimal"),
            Band(5, 9, "mild", "Mild"),
            Band(10, 14, "moderate", "Moderate"),
            Band(15, 19, "moderately_severe", "Moderately severe"),
            Band(20, 27, "severe", "Severe"),
        )
    },
    missing=MissingItems(
        prorate_up_to=2,
        never=(9,),
        source="NHS Data Dictionary, Patient Health Questionnaire-9: one or two missing items take the "
        "mean of the others; more than two, the questionnaire is disregarded",
    ),
    panel_loinc="44249-1",
    total_loinc="44261-6",
    licence="Free to use: “No permission required to reproduce, translate, display or distribute” (Pfizer).",
    sources=(
        "https://loinc.org/44249-1",
        "https://loinc.org/44261-6",
        "https://loinc.org/69729-2",
        "https://www.datadictionary.nhs.uk/data_dictionary/nhs_business_definitions/p/patient_health_questionnaire-9_de.asp",
    ),
    risk_items=(RiskItem(9, 0, "thoughts of being better off dead or of self-harm (item 9)"),),
    remission_below=5,
    response_drop=0.5,
)
