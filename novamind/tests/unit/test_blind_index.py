"""Blind-index normalisation: what staff type and what was stored meet in one form."""

import datetime as dt

import pytest
from django.test import override_settings

from novamind import blind_index


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("zoe obrien", "Zoë O'Brien"),
        ("ZOE  O’BRIEN", "Zoë O'Brien"),
        ("  jose   garcia ", "José García"),
        ("mary jane", "Mary-Jane"),
        ("schafer", "Schäfer"),
    ],
)
def test_names_match_regardless_of_case_accents_apostrophes_and_spacing(typed, stored):
    assert blind_index.normalize_text(typed) == blind_index.normalize_text(stored)


def test_different_names_stay_different():
    assert blind_index.normalize_text("Ann Lee") != blind_index.normalize_text("Anne Lee")


def test_phone_and_email_normalise():
    assert blind_index.normalize_phone("+1 (617) 555-0134") == "16175550134"
    assert blind_index.normalize_email("  Zoe@Example.COM ") == "zoe@example.com"
    assert blind_index.normalize_date(dt.date(1980, 1, 2)) == "1980-01-02"


@override_settings(BLIND_INDEX_KEY="k" * 40)
def test_a_digest_depends_on_the_purpose_the_value_and_the_key():
    by_name = blind_index.of_text("patient.full_name", "Ann Lee")
    assert len(by_name) == 64 and "ann" not in by_name
    assert by_name != blind_index.of_text("patient.last_name", "Ann Lee")
    assert by_name == blind_index.of_text("patient.full_name", "ANN  LEE")
    with override_settings(BLIND_INDEX_KEY="j" * 40):
        assert by_name != blind_index.of_text("patient.full_name", "Ann Lee")


def test_empty_values_have_no_index():
    assert blind_index.of_text("p", "  ") is None
    assert blind_index.of_phone("p", "") is None
    assert blind_index.of_email("p", None) is None
    assert blind_index.of_date("p", None) is None


# --- prefixes -----------------------------------------------------------------------------------


def test_a_prefix_is_normalised_as_names_are_and_ignores_spaces():
    assert blind_index.normalize_prefix("De la Cruz") == "delacruz"
    assert blind_index.normalize_prefix("  GARCÍA-López ") == "garcialopez"
    assert blind_index.normalize_prefix("O’Brien") == "obrien"


@override_settings(BLIND_INDEX_KEY="k" * 40)
def test_a_prefix_index_is_the_index_of_the_first_letters_under_their_length():
    stored = blind_index.of_prefix("patient.last", "García", 3)
    assert len(stored) == 64 and stored == blind_index.of_prefix("patient.last", "gar", 3)
    assert stored == blind_index.of_prefix("patient.last", "GARDNER", 3)
    assert stored != blind_index.of_prefix("patient.last", "García", 4)  # the length is part of the purpose
    assert stored != blind_index.of_prefix("patient.first", "García", 3)
    assert blind_index.of_prefix("patient.last", "García", 6) == blind_index.of_prefix("patient.last", "garcia", 6)


@override_settings(BLIND_INDEX_KEY="k" * 40)
def test_a_name_shorter_than_the_prefix_is_indexed_whole_and_matches_only_itself():
    li = blind_index.of_prefix("patient.last", "Li", 3)
    assert li == blind_index.of_prefix("patient.last", "li", 3)
    assert li != blind_index.of_prefix("patient.last", "Lin", 3)
    assert li != blind_index.of_prefix("patient.last", "Li", 4)  # same text, another length: unrelated digests


@override_settings(BLIND_INDEX_KEY="k" * 40)
def test_a_prefix_can_be_qualified_by_another_value_without_equal_digests():
    plain = blind_index.of_prefix("patient.last", "García", 3)
    in_1984 = blind_index.of_prefix("patient.last", "García", 3, qualifier="1984")
    assert in_1984 not in (plain, blind_index.of_prefix("patient.last", "García", 3, qualifier="1985"))


def test_an_empty_prefix_has_no_index():
    assert blind_index.of_prefix("p", " -' ", 3) is None
    assert blind_index.of_prefix("p", None, 3) is None


@pytest.mark.parametrize(
    "typed, length", [("ga", 3), ("gar", 3), ("García", 6), ("garcia lopez", 6), ("de la", 4), ("O'Bri", 4)]
)
def test_a_search_looks_up_as_many_letters_as_typed_from_three_to_the_longest(typed, length):
    assert blind_index.prefix_length(typed, longest=6) == length
