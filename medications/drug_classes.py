"""The drug-class table for the common psychiatric classes, and how drug names are matched.

Plain data, kept in the project on purpose: the allergy and duplicate checks must work when no
outside drug-knowledge service answers (a check that silently stops is worse than a small one).
It is not a formulary. It knows generic names, a few brand names and synonyms, the classes a
drug belongs to, and the federal schedule of the controlled drugs in those classes.

Two flags per class drive the checks:

- `duplicate_matters`: two current orders in the class are a therapeutic duplication to flag
  (two SSRIs, two antipsychotics). Off for mood stabilizers, which are combined on purpose.
- `cross_sensitive`: an allergy to one member is treated as an allergy to every member, as the
  product labels of these classes warn (benzodiazepines, tricyclics, phenothiazines, the
  aromatic anticonvulsants). A class named in an allergy ("SSRIs") always covers its members.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata


@dataclasses.dataclass(frozen=True)
class DrugClass:
    """A group of drugs that matter together for allergies or duplicate therapy."""

    key: str
    name: str
    members: frozenset[str]
    aliases: frozenset[str] = frozenset()
    duplicate_matters: bool = True
    cross_sensitive: bool = False


def _class(key, name, members, aliases=(), *, duplicate_matters=True, cross_sensitive=False):
    return DrugClass(
        key=key,
        name=name,
        members=frozenset(members),
        aliases=frozenset(normalize(alias) for alias in (name, *aliases)),
        duplicate_matters=duplicate_matters,
        cross_sensitive=cross_sensitive,
    )


def normalize(text: str) -> str:
    """Return `text` case-folded, without accents, punctuation or repeated spaces."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.split(r"[^\w/]+|_", plain)).strip()


# Words that name a salt, a release mechanism or a dose form: "sertraline HCl", "bupropion XL"
# and "lithium carbonate ER tablets" are the same drugs as "sertraline", "bupropion", "lithium".
NON_DISTINGUISHING_WORDS = frozenset(
    """
    hydrochloride hcl hydrobromide hbr sodium potassium carbonate citrate maleate mesylate
    dimesylate besylate fumarate succinate tartrate sulfate oxalate acetate aspartate
    saccharate decanoate palmitate lauroxil monohydrate
    er xr xl sr cr la ir dr cd odt ec extended delayed sustained controlled immediate release
    orally disintegrating tablet tablets tab tabs capsule capsules cap caps solution oral
    injection injectable depot mg mcg ml
""".split()
)

# Brand names and synonyms, to the generic name used in the classes below.
SYNONYMS = {
    "zoloft": "sertraline",
    "prozac": "fluoxetine",
    "sarafem": "fluoxetine",
    "lexapro": "escitalopram",
    "celexa": "citalopram",
    "paxil": "paroxetine",
    "pexeva": "paroxetine",
    "luvox": "fluvoxamine",
    "viibryd": "vilazodone",
    "effexor": "venlafaxine",
    "pristiq": "desvenlafaxine",
    "cymbalta": "duloxetine",
    "fetzima": "levomilnacipran",
    "savella": "milnacipran",
    "elavil": "amitriptyline",
    "pamelor": "nortriptyline",
    "tofranil": "imipramine",
    "norpramin": "desipramine",
    "anafranil": "clomipramine",
    "sinequan": "doxepin",
    "silenor": "doxepin",
    "nardil": "phenelzine",
    "parnate": "tranylcypromine",
    "marplan": "isocarboxazid",
    "emsam": "selegiline",
    "xanax": "alprazolam",
    "klonopin": "clonazepam",
    "ativan": "lorazepam",
    "valium": "diazepam",
    "librium": "chlordiazepoxide",
    "restoril": "temazepam",
    "serax": "oxazepam",
    "tranxene": "clorazepate",
    "ambien": "zolpidem",
    "lunesta": "eszopiclone",
    "sonata": "zaleplon",
    "adderall": "amphetamine",
    "mixed amphetamine salts": "amphetamine",
    "dextroamphetamine/amphetamine": "amphetamine",
    "amphetamine/dextroamphetamine": "amphetamine",
    "dextroamphetamine amphetamine": "amphetamine",
    "amphetamine dextroamphetamine": "amphetamine",
    "mydayis": "amphetamine",
    "evekeo": "amphetamine",
    "dexedrine": "dextroamphetamine",
    "zenzedi": "dextroamphetamine",
    "vyvanse": "lisdexamfetamine",
    "lisdexamphetamine": "lisdexamfetamine",
    "desoxyn": "methamphetamine",
    "ritalin": "methylphenidate",
    "concerta": "methylphenidate",
    "metadate": "methylphenidate",
    "daytrana": "methylphenidate",
    "focalin": "dexmethylphenidate",
    "haldol": "haloperidol",
    "thorazine": "chlorpromazine",
    "prolixin": "fluphenazine",
    "trilafon": "perphenazine",
    "navane": "thiothixene",
    "loxitane": "loxapine",
    "stelazine": "trifluoperazine",
    "risperdal": "risperidone",
    "zyprexa": "olanzapine",
    "seroquel": "quetiapine",
    "abilify": "aripiprazole",
    "geodon": "ziprasidone",
    "latuda": "lurasidone",
    "invega": "paliperidone",
    "clozaril": "clozapine",
    "rexulti": "brexpiprazole",
    "vraylar": "cariprazine",
    "saphris": "asenapine",
    "fanapt": "iloperidone",
    "caplyta": "lumateperone",
    "lithobid": "lithium",
    "eskalith": "lithium",
    "depakote": "valproate",
    "depakene": "valproate",
    "divalproex": "valproate",
    "valproic acid": "valproate",
    "lamictal": "lamotrigine",
    "tegretol": "carbamazepine",
    "equetro": "carbamazepine",
    "trileptal": "oxcarbazepine",
    "dilantin": "phenytoin",
}

CLASSES = (
    _class(
        "ssri",
        "SSRIs",
        {
            "citalopram",
            "escitalopram",
            "fluoxetine",
            "fluvoxamine",
            "paroxetine",
            "sertraline",
            "vilazodone",
        },
        ("SSRI", "selective serotonin reuptake inhibitor", "selective serotonin reuptake inhibitors"),
    ),
    _class(
        "snri",
        "SNRIs",
        {
            "venlafaxine",
            "desvenlafaxine",
            "duloxetine",
            "levomilnacipran",
            "milnacipran",
        },
        ("SNRI", "serotonin norepinephrine reuptake inhibitor", "serotonin norepinephrine reuptake inhibitors"),
    ),
    _class(
        "tca",
        "tricyclic antidepressants",
        {
            "amitriptyline",
            "nortriptyline",
            "imipramine",
            "desipramine",
            "clomipramine",
            "doxepin",
            "protriptyline",
            "trimipramine",
            "amoxapine",
        },
        ("TCA", "TCAs", "tricyclic", "tricyclics", "tricyclic antidepressant"),
        cross_sensitive=True,
    ),
    _class(
        "maoi",
        "MAOIs",
        {"phenelzine", "tranylcypromine", "isocarboxazid", "selegiline"},
        ("MAOI", "monoamine oxidase inhibitor", "monoamine oxidase inhibitors"),
    ),
    _class(
        "benzodiazepine",
        "benzodiazepines",
        {
            "alprazolam",
            "clonazepam",
            "lorazepam",
            "diazepam",
            "chlordiazepoxide",
            "temazepam",
            "oxazepam",
            "clorazepate",
        },
        ("benzodiazepine", "benzo", "benzos"),
        cross_sensitive=True,
    ),
    _class(
        "z_drug",
        "Z-drug hypnotics",
        {"zolpidem", "eszopiclone", "zaleplon"},
        ("Z-drug", "Z-drugs", "nonbenzodiazepine hypnotics", "non-benzodiazepine hypnotics"),
    ),
    _class(
        "stimulant",
        "stimulants",
        {
            "amphetamine",
            "dextroamphetamine",
            "lisdexamfetamine",
            "methamphetamine",
            "methylphenidate",
            "dexmethylphenidate",
        },
        ("stimulant", "psychostimulant", "psychostimulants", "CNS stimulants", "amphetamines"),
    ),
    _class(
        "antipsychotic",
        "antipsychotics",
        {
            "haloperidol",
            "chlorpromazine",
            "fluphenazine",
            "perphenazine",
            "thioridazine",
            "thiothixene",
            "loxapine",
            "trifluoperazine",
            "aripiprazole",
            "asenapine",
            "brexpiprazole",
            "cariprazine",
            "clozapine",
            "iloperidone",
            "lumateperone",
            "lurasidone",
            "olanzapine",
            "paliperidone",
            "quetiapine",
            "risperidone",
            "ziprasidone",
        },
        ("antipsychotic", "neuroleptic", "neuroleptics"),
    ),
    _class(
        "phenothiazine",
        "phenothiazines",
        {
            "chlorpromazine",
            "fluphenazine",
            "perphenazine",
            "thioridazine",
            "trifluoperazine",
        },
        ("phenothiazine",),
        duplicate_matters=False,
        cross_sensitive=True,
    ),
    _class(
        "mood_stabilizer",
        "mood stabilizers",
        {
            "lithium",
            "valproate",
            "lamotrigine",
            "carbamazepine",
            "oxcarbazepine",
        },
        ("mood stabilizer",),
        duplicate_matters=False,
    ),
    _class(
        "aromatic_anticonvulsant",
        "aromatic anticonvulsants",
        {
            "carbamazepine",
            "oxcarbazepine",
            "lamotrigine",
            "phenytoin",
        },
        ("aromatic anticonvulsant", "aromatic antiepileptics"),
        duplicate_matters=False,
        cross_sensitive=True,
    ),
)

# Federal schedules (21 CFR 1308) of the controlled drugs the table knows; "II" to "V".
KNOWN_SCHEDULES = {
    **{
        drug: "II"
        for drug in (
            "amphetamine",
            "dextroamphetamine",
            "lisdexamfetamine",
            "methamphetamine",
            "methylphenidate",
            "dexmethylphenidate",
        )
    },
    **{
        drug: "IV"
        for drug in (
            "alprazolam",
            "clonazepam",
            "lorazepam",
            "diazepam",
            "chlordiazepoxide",
            "temazepam",
            "oxazepam",
            "clorazepate",
            "zolpidem",
            "eszopiclone",
            "zaleplon",
            "modafinil",
            "armodafinil",
            "phenobarbital",
        )
    },
    "esketamine": "III",
    "buprenorphine": "III",
    "pregabalin": "V",
}


def canonical(name: str) -> str:
    """Return the generic name `name` stands for ("Zoloft 50 mg" and "sertraline HCl" → "sertraline")."""
    normalized = normalize(name)
    if normalized in SYNONYMS:
        return SYNONYMS[normalized]
    words = [word for word in normalized.split() if word not in NON_DISTINGUISHING_WORDS and not word.isdigit()]
    stripped = " ".join(words) or normalized
    return SYNONYMS.get(stripped, stripped)


def classes_of(name: str) -> list[DrugClass]:
    """Return the classes the drug called `name` belongs to."""
    drug = canonical(name)
    return [drug_class for drug_class in CLASSES if drug in drug_class.members]


def class_named(text: str) -> DrugClass | None:
    """Return the class `text` names ("SSRIs", "benzos"), or None."""
    normalized = normalize(text)
    return next((drug_class for drug_class in CLASSES if normalized in drug_class.aliases), None)


def known_schedule(name: str) -> str | None:
    """Return the federal schedule of the drug called `name`, or None when the table does not list it."""
    return KNOWN_SCHEDULES.get(canonical(name))
