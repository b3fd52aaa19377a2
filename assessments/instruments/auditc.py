"""The AUDIT-C (the three consumption questions of the AUDIT): hazardous drinking. Plain data.

Wording and answers: questions 1–3 of the Alcohol Use Disorders Identification Test, Babor TF,
Higgins-Biddle JC, Saunders JB, Monteiro MG. The AUDIT, guidelines for use in primary care,
2nd ed. World Health Organization, 2001 (WHO/MSD/MSB/01.6a). "As a WHO-approved instrument, the
AUDIT is in the public domain" (HL7 US Core's AUDIT-C Questionnaire, copyright field).

LOINC: panel 72109-2 and total 75626-2 (0–12) read on loinc.org/75626-2 ("Member of these
Panels: 72109-2"); item codes 68519-8 and 68520-6 as HL7 US Core's AUDIT-C Questionnaire (built
from LOINC) uses them; 68518-0 for question 1 as several FHIR and CDA implementations use it (its
loinc.org page was not read). The answer codes were not verified, so none is given.

Cut-points: "A score of 4 or more for men and 3 or more for women is considered positive for
hazardous drinking or active alcohol use disorders" (loinc.org/75626-2, citing Bush K, Kivlahan
DR et al., PMID 12695273). So the bands depend on the scoring basis: `MEN` for a patient whose
sex assigned at birth is male, `WOMEN` otherwise (female, and intersex, unknown or declined,
for whom the lower cut-point misses fewer). Each response keeps the basis it was scored on, so
its band can be recomputed from the response alone.

Missing items: the AUDIT manual gives no rule for an unanswered question, so all three must be
answered. The AUDIT-C asks nothing about suicide or self-harm: it raises no safety alert.
"""

from assessments.instruments.scale import ANY, Band, Instrument, Item, MissingItems, Option

MEN, WOMEN = "men", "women"

INSTRUMENT = Instrument(
    code="auditc",
    name="AUDIT-C",
    title="Alcohol Use Disorders Identification Test – Consumption",
    stem="Questions about your use of alcoholic beverages:",
    options=(),
    items=(
        Item(
            1,
            "How often do you have a drink containing alcohol?",
            "68518-0",
            options=(
                Option(0, "Never"),
                Option(1, "Monthly or less"),
                Option(2, "2 to 4 times a month"),
                Option(3, "2 to 3 times a week"),
                Option(4, "4 or more times a week"),
            ),
        ),
        Item(
            2,
            "How many drinks containing alcohol do you have on a typical day when you are drinking?",
            "68519-8",
            options=(
                Option(0, "1 or 2"),
                Option(1, "3 or 4"),
                Option(2, "5 or 6"),
                Option(3, "7, 8, or 9"),
                Option(4, "10 or more"),
            ),
        ),
        Item(
            3,
            "How often do you have six or more drinks on one occasion?",
            "68520-6",
            options=(
                Option(0, "Never"),
                Option(1, "Less than monthly"),
                Option(2, "Monthly"),
                Option(3, "Weekly"),
                Option(4, "Daily or almost daily"),
            ),
        ),
    ),
    bands={
        ANY: (
            Band(0, 2, "negative", "Negative screen (under 3)"),
            Band(3, 12, "positive", "Positive screen (3 or more)"),
        ),
        WOMEN: (
            Band(0, 2, "negative", "Negative screen (under 3)"),
            Band(3, 12, "positive", "Positive screen (3 or more)"),
        ),
        MEN: (
            Band(0, 3, "negative", "Negative screen (under 4)"),
            Band(4, 12, "positive", "Positive screen (4 or more)"),
        ),
    },
    missing=MissingItems(
        prorate_up_to=0,
        source="the AUDIT manual (WHO, 2001) gives no rule for unanswered questions: all three must be answered",
    ),
    panel_loinc="72109-2",
    total_loinc="75626-2",
    licence="Public domain: a WHO-approved instrument (WHO, 2001).",
    sources=(
        "https://loinc.org/75626-2",
        "https://build.fhir.org/ig/HL7/US-Core/en/Questionnaire-AUDIT-C.html",
        "Babor TF et al. The AUDIT, 2nd ed. WHO, 2001 (WHO/MSD/MSB/01.6a)",
    ),
)


def basis_for(sex_assigned_at_birth: str) -> str:
    """Return the scoring basis of a patient: MEN for male, WOMEN for anyone else (the lower cut-point)."""
    return MEN if sex_assigned_at_birth == "male" else WOMEN
