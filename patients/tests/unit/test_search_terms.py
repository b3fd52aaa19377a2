"""How the patient search box reads what staff type: which blind indexes a term asks for."""

import datetime as dt

import pytest

from patients.admin import parse_search_term


@pytest.mark.parametrize(
    "typed, criteria",
    [
        # Exact searches, as before.
        ("nm12345678", {"mrn": "NM12345678"}),
        ("1984-03-02", {"date_of_birth": dt.date(1984, 3, 2)}),
        ("03/02/1984", {"date_of_birth": dt.date(1984, 3, 2)}),
        ("Zoe@Example.com", {"email": "Zoe@Example.com"}),
        ("(617) 555-0134", {"phone": "(617) 555-0134"}),
        ("zoe  obrien", {"name": "zoe obrien"}),
        # One word is the start of a last name; a comma adds the start of a first name.
        ("gar", {"last_name_prefix": "gar"}),
        ("García", {"last_name_prefix": "García"}),
        ("gar, oli", {"last_name_prefix": "gar", "first_name_prefix": "oli"}),
        ("garcia,oli", {"last_name_prefix": "garcia", "first_name_prefix": "oli"}),
        (", oli", {"first_name_prefix": "oli"}),
        ("gar,", {"last_name_prefix": "gar"}),
        # A birth year or a date of birth at the end narrows it.
        ("gar 1984", {"last_name_prefix": "gar", "birth_year": 1984}),
        ("gar 1984-03-02", {"last_name_prefix": "gar", "date_of_birth": dt.date(1984, 3, 2)}),
        ("gar 3/2/1984", {"last_name_prefix": "gar", "date_of_birth": dt.date(1984, 3, 2)}),
        ("gar, oli 1984", {"last_name_prefix": "gar", "first_name_prefix": "oli", "birth_year": 1984}),
        ("de la 1984", {"last_name_prefix": "de la", "birth_year": 1984}),
        ("zoe obrien 1984-02-29", {"name": "zoe obrien", "date_of_birth": dt.date(1984, 2, 29)}),
    ],
)
def test_the_search_box_reads_exact_terms_and_name_prefixes_with_a_birth_year_or_date(typed, criteria):
    assert parse_search_term(typed) == criteria


def test_a_year_alone_is_a_birth_year_and_one_out_of_range_is_not():
    assert parse_search_term("1984") == {"birth_year": 1984}
    assert parse_search_term("gar 1850") == {"name": "gar 1850"}
