"""The PCL-5 (PTSD Checklist for DSM-5): PTSD symptom severity over the past month. Plain data.

Wording and answers: the PCL-5 of Weathers, Litz, Keane, Palmieri, Marx and Schnurr (2013),
National Center for PTSD, U.S. Department of Veterans Affairs: a work of the U.S. government, in
the public domain. Twenty items, each 0 "Not at all" to 4 "Extremely"; the total is their sum,
0–80.

LOINC: panel 101697-1 "Post traumatic stress disorder checklist - civilian version DSM-5
[PCL-5]" and total 101698-9 "PTSD PCL-5 score [PCL-5]", read in the LOINC table as
findacode.com/loinc/101697-1 and healthassure.in/codes/loinc-101698-9 publish it (Regenstrief's
copyright notice on both); loinc.org's own pages for them were not reached. The item and answer
codes were not verified, so none is given.

Cut-point: "a cut-point score of 31-33 which appears to be reasonable based upon current
psychometric work"; "There are currently no empirically derived severity ranges for the PCL-5"
(the PCL-5 scoring guidance as the Australian comorbidity guidelines reproduce it,
comorbidityguidelines.org.au/appendix-s-ptsd-checklist-for-dsm5-pcl5/pcl5-scoring-and-interpretation).
So the bands are the cut-point's, not severities: below it, within it, above it.

Missing items: the scoring guidance gives no rule for unanswered items, so every item must be
answered. Item 16 ("Taking too many risks or doing things that could cause you harm?") is a
symptom of the arousal cluster, not a question about suicide or self-harm: the PCL-5 has no item
equivalent to the PHQ-9's item 9, and raises no safety alert.
"""

from assessments.instruments.scale import ANY, Band, Instrument, Item, MissingItems, Option

OPTIONS = (
    Option(0, "Not at all"),
    Option(1, "A little bit"),
    Option(2, "Moderately"),
    Option(3, "Quite a bit"),
    Option(4, "Extremely"),
)

INSTRUMENT = Instrument(
    code="pcl5",
    name="PCL-5",
    title="PTSD Checklist for DSM-5",
    stem="In the past month, how much were you bothered by:",
    options=OPTIONS,
    items=(
        Item(1, "Repeated, disturbing, and unwanted memories of the stressful experience?"),
        Item(2, "Repeated, disturbing dreams of the stressful experience?"),
        Item(
            3,
            "Suddenly feeling or acting as if the stressful experience were actually happening again (as if "
            "you were actually back there reliving it)?",
        ),
        Item(4, "Feeling very upset when something reminded you of the stressful experience?"),
        Item(
            5,
            "Having strong physical reactions when something reminded you of the stressful experience (for "
            "example, heart pounding, trouble breathing, sweating)?",
        ),
        Item(6, "Avoiding memories, thoughts, or feelings related to the stressful experience?"),
        Item(
            7,
            "Avoiding external reminders of the stressful experience (for example, people, places, "
            "conversations, activities, objects, or situations)?",
        ),
        Item(8, "Trouble remembering important parts of the stressful experience?"),
        Item(
            9,
            "Having strong negative beliefs about yourself, other people, or the world (for example, having "
            "thoughts such as: I am bad, there is something seriously wrong with me, no one can be trusted, "
            "the world is completely dangerous)?",
        ),
        Item(10, "Blaming yourself or someone else for the stressful experience or what happened after it?"),
        Item(11, "Having strong negative feelings such as fear, horror, anger, guilt, or shame?"),
        Item(12, "Loss of interest in activities that you used to enjoy?"),
        Item(13, "Feeling distant or cut off from other people?"),
        Item(
            14,
            "Trouble experiencing positive feelings (for example, being unable to feel happiness or have "
            "loving feelings for people close to you)?",
        ),
        Item(15, "Irritable behavior, angry outbursts, or acting aggressively?"),
        Item(16, "Taking too many risks or doing things that could cause you harm?"),
        Item(17, "Being “superalert” or watchful or on guard?"),
        Item(18, "Feeling jumpy or easily startled?"),
        Item(19, "Having difficulty concentrating?"),
        Item(20, "Trouble falling or staying asleep?"),
    ),
    bands={
        ANY: (
            Band(0, 30, "below_cut_point", "Below the cut-point (under 31)"),
            Band(31, 33, "at_cut_point", "At the cut-point (31–33): probable PTSD"),
            Band(34, 80, "above_cut_point", "Above the cut-point (34 or more): probable PTSD"),
        )
    },
    missing=MissingItems(
        prorate_up_to=0,
        source="the PCL-5 scoring guidance gives no rule for unanswered items: every item must be answered",
    ),
    panel_loinc="101697-1",
    total_loinc="101698-9",
    licence="Public domain: a work of the U.S. Department of Veterans Affairs (National Center for PTSD).",
    sources=(
        "https://findacode.com/loinc/101697-1--post-traumatic-stress-disorder-checklist-civilian-version-dsm-5-pcl-5.html",
        "https://www.healthassure.in/codes/loinc-101698-9-ptsd-pcl-5-score-pcl-5",
        "https://comorbidityguidelines.org.au/appendix-s-ptsd-checklist-for-dsm5-pcl5/pcl5-scoring-and-interpretation",
    ),
)
