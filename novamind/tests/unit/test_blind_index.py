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
