"""Prefix search: the start of a last (and first) name, with a birth year or date, through blind indexes."""

import dataclasses
import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinical_notes.tests.factories import make_clinician
from conftest import assign_care, make_staff
from novamind import blind_index, roles, signals
from patients import domain, models, repository

pytestmark = pytest.mark.django_db

ROWS_PER_PATIENT = 7  # the last name's 3 to 6 letters, its 3 with the year, first and preferred name's 3


def person(first="Olivia", last="García", born=dt.date(1984, 3, 2), preferred=""):
    return domain.Patient(legal_first_name=first, legal_last_name=last, preferred_name=preferred, date_of_birth=born)


@pytest.fixture
def patients(staff):
    return repository.DjangoPatientRepository(actor=staff)


@pytest.fixture
def clinic(patients):
    """Patients whose names start alike, so that a prefix must tell them apart."""
    return {
        "olivia": patients.add(person()),
        "omar": patients.add(person("Omar", "Garcia", dt.date(1984, 11, 30))),
        "oscar": patients.add(person("Oscar", "Gardner", dt.date(1990, 7, 1), preferred="Ozzie")),
        "lena": patients.add(person("Lena", "Li", dt.date(1984, 3, 2))),
        "liam": patients.add(person("Liam", "Lindqvist", dt.date(1984, 3, 2))),
        "ana": patients.add(person("Ana", "de la Cruz", dt.date(1984, 5, 5))),
    }


def found(patients, **criteria):
    return {p.legal_first_name for p in patients.search(**criteria)}


@pytest.mark.parametrize(
    "criteria, names",
    [
        ({"last_name_prefix": "gar"}, {"Olivia", "Omar", "Oscar"}),
        ({"last_name_prefix": "GARC"}, {"Olivia", "Omar"}),
        ({"last_name_prefix": "garcí"}, {"Olivia", "Omar"}),
        ({"last_name_prefix": "Garcia"}, {"Olivia", "Omar"}),
        ({"last_name_prefix": "gard"}, {"Oscar"}),
        ({"last_name_prefix": "gax"}, set()),
        ({"last_name_prefix": "dela"}, {"Ana"}),
        ({"last_name_prefix": "De La C"}, {"Ana"}),
        ({"last_name_prefix": "gar", "birth_year": 1984}, {"Olivia", "Omar"}),
        ({"last_name_prefix": "garc", "birth_year": 1990}, set()),
        ({"last_name_prefix": "gard", "birth_year": 1990}, {"Oscar"}),
        ({"last_name_prefix": "gar", "date_of_birth": dt.date(1984, 3, 2)}, {"Olivia"}),
        ({"last_name_prefix": "gar", "first_name_prefix": "oli"}, {"Olivia"}),
        ({"last_name_prefix": "gar", "first_name_prefix": "Olivia"}, {"Olivia"}),
        ({"last_name_prefix": "gar", "first_name_prefix": "ozz"}, {"Oscar"}),  # the preferred name
        ({"last_name_prefix": "gar", "first_name_prefix": "osc"}, {"Oscar"}),
        ({"first_name_prefix": "oma"}, {"Omar"}),
        ({"last_name_prefix": "gar", "first_name_prefix": "om", "birth_year": 1984}, set()),
    ],
)
def test_the_start_of_a_name_finds_the_patients_whose_name_starts_so(patients, clinic, criteria, names):
    assert found(patients, **criteria) == names


def test_a_name_shorter_than_three_letters_is_found_whole_never_as_a_prefix(patients, clinic):
    assert found(patients, last_name_prefix="li") == {"Lena"}
    assert found(patients, last_name_prefix="Li", birth_year=1984) == {"Lena"}
    assert found(patients, last_name_prefix="lin") == {"Liam"}
    assert found(patients, last_name_prefix="l") == set()


def test_a_birth_year_needs_a_last_name_there_is_no_index_of_the_year_alone(patients, clinic):
    assert found(patients, birth_year=1984) == set()
    assert found(patients, first_name_prefix="oli", birth_year=1984) == set()


def test_a_prefix_search_is_one_query_whatever_it_combines(patients, clinic, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert len(patients.search(last_name_prefix="gar", first_name_prefix="o", birth_year=1984)) == 0
    with django_assert_max_num_queries(1):
        assert len(patients.search(last_name_prefix="garcia", first_name_prefix="oli", birth_year=1984)) == 1


def stored_digests(patient_id):
    return set(models.NamePrefixIndex.objects.filter(patient_id=patient_id).values_list("digest", flat=True))


def test_every_patient_has_the_same_number_of_prefix_rows_whatever_the_length_of_the_names(clinic):
    # A row count that varied with the names would tell a short name or a preferred name from the table alone.
    for patient in clinic.values():
        assert len(stored_digests(patient.id)) == ROWS_PER_PATIENT, patient.legal_first_name


def test_the_prefix_rows_hold_digests_only(clinic):
    for digest in models.NamePrefixIndex.objects.values_list("digest", flat=True):
        assert len(digest) == blind_index.DIGEST_LENGTH and set(digest) <= set("0123456789abcdef")


def test_a_change_of_name_or_birth_date_moves_the_patient_to_the_new_prefixes(patients, clinic):
    olivia = clinic["olivia"]
    renamed = patients.update(dataclasses.replace(olivia, legal_last_name="Okafor", date_of_birth=dt.date(1985, 1, 1)))
    assert found(patients, last_name_prefix="gar") == {"Omar", "Oscar"}
    assert found(patients, last_name_prefix="oka", birth_year=1985) == {"Olivia"}
    assert found(patients, last_name_prefix="oka", birth_year=1984) == set()
    assert len(stored_digests(olivia.id)) == ROWS_PER_PATIENT
    # Back again (as a revert from the history would): the old prefixes are found again.
    patients.update(dataclasses.replace(renamed, legal_last_name="García", date_of_birth=dt.date(1984, 3, 2)))
    assert found(patients, last_name_prefix="garcia", birth_year=1984) == {"Olivia", "Omar"}


def test_a_save_that_changes_no_name_leaves_the_prefix_rows_alone(patients, clinic, django_assert_num_queries):
    before = stored_digests(clinic["olivia"].id)
    patients.set_status(clinic["olivia"].id, domain.PatientStatus.INACTIVE)
    assert stored_digests(clinic["olivia"].id) == before


def test_patients_written_in_bulk_get_their_prefix_rows(patients):
    checked = [
        person("Olivia", "García").validated(today=timezone.localdate(), phone_region="US"),
        person("Lena", "Li").validated(today=timezone.localdate(), phone_region="US"),
    ]
    patients.add_many(checked, now=timezone.now(), reason="Imported from CSV")
    assert found(patients, last_name_prefix="gar", first_name_prefix="oli", birth_year=1984) == {"Olivia"}
    assert found(patients, last_name_prefix="li", birth_year=1984) == {"Lena"}
    assert models.NamePrefixIndex.objects.count() == 2 * ROWS_PER_PATIENT


def test_the_migration_fills_in_the_prefix_rows_of_existing_patients(clinic):
    models.NamePrefixIndex.objects.all().delete()
    migration = importlib.import_module("patients.migrations.0007_name_prefix_index")
    migration.fill_name_prefixes(apps, connection.schema_editor())
    assert all(len(stored_digests(patient.id)) == ROWS_PER_PATIENT for patient in clinic.values())


# --- the admin's search box ------------------------------------------------------------------------


LIST = reverse("admin:patients_patient_changelist")


def listed(client, term):
    response = client.get(LIST, {"q": term})
    assert response.status_code == 200
    return {row.legal_first_name for row in response.context["cl"].result_list}


@pytest.mark.parametrize(
    "term, names",
    [
        ("gar", {"Olivia", "Omar", "Oscar"}),
        ("gar 1984", {"Olivia", "Omar"}),
        ("gar 1984-03-02", {"Olivia"}),
        ("gar 03/02/1984", {"Olivia"}),
        ("gar, oli", {"Olivia"}),
        ("García, Olivia 1984", {"Olivia"}),
        ("li", {"Lena"}),
        ("olivia garcia", {"Olivia"}),  # a full name, exactly, as before
    ],
)
def test_the_search_box_finds_patients_by_the_start_of_their_name(staff_client, clinic, term, names):
    assert listed(staff_client, term) == names


def test_the_search_box_lists_only_the_patients_the_user_may_see(client, clinic, staff):
    doctor = make_clinician("drgar")
    with signals.changed_by(make_staff("root", superuser=True)):
        doctor.groups.add(Group.objects.get(name=roles.CLINICIAN))
    assign_care(clinic["omar"], doctor, by=staff)
    client.force_login(doctor)
    assert listed(client, "gar 1984") == {"Omar"}
    assert listed(client, "gar") == {"Omar"}


def test_a_prefix_search_costs_as_many_queries_for_many_matches_as_for_one(staff_client, clinic, patients):
    def queries(term):
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            listed(staff_client, term)
        return len(captured)

    queries("gard")  # the first request of a session does more (sign-in bookkeeping, caches)
    one = queries("gard")
    for number in range(8):
        patients.add(person(f"Otto{number}", "Gardner", dt.date(1970, 1, 1 + number)))
    assert queries("gard") == one
