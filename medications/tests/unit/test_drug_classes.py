"""The drug-class table: names, brands and salts resolve to one drug; classes and schedules are known."""

import pytest

from medications import drug_classes


@pytest.mark.parametrize(
    "written, generic",
    [
        ("Zoloft", "sertraline"),
        ("Sertraline HCl 50 mg", "sertraline"),
        ("bupropion XL", "bupropion"),
        ("Lithium carbonate ER", "lithium"),
        ("Adderall XR", "amphetamine"),
        ("dextroamphetamine-amphetamine", "amphetamine"),
        ("Depakote", "valproate"),
        ("valproic acid", "valproate"),
        ("  ESCITALOPRAM  oxalate ", "escitalopram"),
    ],
)
def test_brand_salt_and_release_words_resolve_to_the_generic_name(written, generic):
    assert drug_classes.canonical(written) == generic


def test_a_drug_can_belong_to_several_classes():
    keys = {drug_class.key for drug_class in drug_classes.classes_of("Tegretol")}
    assert keys == {"mood_stabilizer", "aromatic_anticonvulsant"}


@pytest.mark.parametrize(
    "text, key", [("SSRIs", "ssri"), ("benzos", "benzodiazepine"), ("Tricyclics", "tca"), ("MAOI", "maoi")]
)
def test_an_allergy_may_name_a_class_by_its_usual_names(text, key):
    assert drug_classes.class_named(text).key == key


def test_a_drug_name_is_not_mistaken_for_a_class():
    assert drug_classes.class_named("sertraline") is None


def test_the_table_knows_the_schedules_of_controlled_psychiatric_drugs():
    assert drug_classes.known_schedule("Ritalin") == "II"
    assert drug_classes.known_schedule("alprazolam") == "IV"
    assert drug_classes.known_schedule("sertraline") is None


def test_every_class_has_members_and_every_synonym_points_to_a_known_drug_or_class_member():
    members = set().union(*(drug_class.members for drug_class in drug_classes.CLASSES))
    assert all(drug_class.members for drug_class in drug_classes.CLASSES)
    unknown = {generic for generic in drug_classes.SYNONYMS.values() if generic not in members}
    assert unknown <= set(drug_classes.KNOWN_SCHEDULES)
