"""The shipped ICD-10-CM code set: normalising codes, billable or not, search by code or by words."""

import pytest

from diagnoses import codeset


@pytest.mark.parametrize(("given", "written"), [("f321", "F32.1"), ("F32.1", "F32.1"), (" f 43.10 ", "F43.10")])
def test_a_code_is_normalised_to_upper_case_with_its_dot(given, written):
    assert codeset.normalize(given) == written


def test_billable_codes_have_their_official_descriptions():
    assert codeset.describe("F41.1") == "Generalized anxiety disorder"
    assert codeset.describe("f43.10") == "Post-traumatic stress disorder, unspecified"
    assert codeset.describe("F32") is None


def test_search_by_code_prefix_lists_the_billable_codes_under_it():
    codes = [code for code, _ in codeset.search("F90")]
    assert codes[:3] == ["F90.0", "F90.1", "F90.2"] and all(code.startswith("F90.") for code in codes)
    assert codeset.search("f321") == [("F32.1", "Major depressive disorder, single episode, moderate")]


def test_search_by_words_needs_every_word_in_any_order_and_case():
    found = codeset.search("Depressive MAJOR")
    assert ("F32.1", "Major depressive disorder, single episode, moderate") in found
    assert all("major" in text.lower() and "depressive" in text.lower() for _, text in found)


def test_search_is_limited_and_an_empty_query_finds_nothing():
    assert len(codeset.search("disorder", limit=5)) == 5
    assert codeset.search("   ") == []
