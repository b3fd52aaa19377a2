"""DjangoPatientRepository on the real database: domain objects out, attributed writes in."""

import dataclasses
import datetime as dt
import uuid

import pytest

from novamind.domain import ConcurrencyError, NotFound, RuleViolation
from patients import domain, models, repository

pytestmark = pytest.mark.django_db


def new_patient(**changes):
    base = domain.Patient(
        legal_first_name="Zoë",
        legal_last_name="O'Brien",
        date_of_birth=dt.date(1984, 2, 29),
        preferred_name="Zo",
        phone="(617) 555-0134",
        email="Zoe.OBrien@example.com",
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def patients(staff):
    return repository.DjangoPatientRepository(actor=staff)


def test_add_returns_a_domain_patient_with_identity_mrn_and_audit(patients, staff):
    added = patients.add(new_patient())
    assert isinstance(added, domain.Patient)
    assert isinstance(added.id, uuid.UUID) and domain.is_valid_mrn(added.mrn)
    assert added.phone == "+16175550134"
    assert added.audit.created_by == "alice" and added.audit.version == 1
    assert patients.get_by_id(added.id) == added


def test_invalid_patients_are_refused_with_field_errors_and_nothing_is_written(patients):
    with pytest.raises(RuleViolation) as caught:
        patients.add(new_patient(email="nope", date_of_birth=dt.date(2999, 1, 1)))
    assert set(caught.value.errors) == {"email", "date_of_birth"}
    assert models.Patient.objects.count() == 0 and models.Patient.history.count() == 0


def test_a_date_of_birth_before_1900_is_refused_on_its_field(patients):
    with pytest.raises(RuleViolation) as caught:
        patients.add(new_patient(date_of_birth=dt.date(1899, 12, 31)))
    assert caught.value.errors == {"date_of_birth": ["Enter a date no earlier than 1 January 1900."]}
    assert models.Patient.objects.count() == 0


def test_every_write_leaves_a_history_row_with_the_acting_user(staff, other_staff):
    added = repository.DjangoPatientRepository(actor=staff).add(new_patient())
    by_bob = repository.DjangoPatientRepository(actor=other_staff)
    by_bob.update(dataclasses.replace(added, pronouns="she/her"))
    by_bob.delete(added.id)
    rows = list(models.Patient.history.filter(id=added.id).order_by("history_date"))
    assert [(r.history_user.username, r.version, r.history_change_reason) for r in rows] == [
        ("alice", 1, "Registered"),
        ("bob", 2, "Details changed"),
        ("bob", 3, "Status set to inactive"),
    ]
    stored = models.Patient.objects.get(pk=added.id)
    assert stored.created_by == staff and stored.updated_by == other_staff


def test_a_stale_update_is_refused_and_the_first_writer_wins(staff, other_staff):
    added = repository.DjangoPatientRepository(actor=staff).add(new_patient())
    repository.DjangoPatientRepository(actor=other_staff).update(dataclasses.replace(added, phone="617-555-0111"))
    with pytest.raises(ConcurrencyError):
        repository.DjangoPatientRepository(actor=staff).update(dataclasses.replace(added, email="late@example.com"))
    current = repository.DjangoPatientRepository(actor=staff).get_by_id(added.id)
    assert current.phone == "+16175550111" and current.email == "Zoe.OBrien@example.com"
    assert current.audit.version == 2


def test_delete_deactivates_and_keeps_the_record(patients):
    added = patients.add(new_patient())
    patients.delete(added.id)
    assert patients.get_by_id(added.id).status is domain.PatientStatus.INACTIVE


def test_unknown_and_garbage_ids(patients):
    assert patients.get_by_id(uuid.uuid4()) is None
    assert patients.get_by_id("not-a-uuid") is None
    with pytest.raises(NotFound):
        patients.delete(uuid.uuid4())
    with pytest.raises(NotFound):
        patients.update(dataclasses.replace(new_patient(), id=uuid.uuid4()))


def test_find_by_mrn_is_exact_and_case_insensitive(patients):
    added = patients.add(new_patient())
    assert patients.find_by_mrn(added.mrn.lower()).id == added.id
    assert patients.find_by_mrn("NM00000000") is None


@pytest.mark.parametrize(
    "criteria",
    [
        {"name": "zoe obrien"},
        {"name": "ZO O'BRIEN"},
        {"name": "o'brien"},
        {"date_of_birth": dt.date(1984, 2, 29)},
        {"phone": "+1 617 555 0134"},
        {"email": "zoe.obrien@EXAMPLE.com"},
        {"name": "Zoë O’Brien", "date_of_birth": dt.date(1984, 2, 29)},
    ],
)
def test_search_finds_the_patient_through_the_blind_indexes(patients, criteria):
    added = patients.add(new_patient())
    patients.add(
        new_patient(
            legal_first_name="Ann",
            legal_last_name="Lee",
            preferred_name="",
            phone="",
            email="",
            date_of_birth=dt.date(1950, 1, 1),
        )
    )
    assert [p.id for p in patients.search(**criteria)] == [added.id]


def test_search_combines_criteria_with_and_and_needs_one(patients):
    patients.add(new_patient())
    assert patients.search(name="zoe obrien", date_of_birth=dt.date(1984, 3, 1)) == []
    assert patients.search(name="zoe") == []
    assert patients.search() == []


def test_search_and_lookup_use_indexes_not_decryption(patients, django_assert_max_num_queries):
    patients.add(new_patient())
    with django_assert_max_num_queries(1):
        assert len(patients.search(name="zoe obrien")) == 1


def test_list_pages_through_patients_in_mrn_order(patients):
    added = [patients.add(new_patient(legal_first_name=f"P{i}")) for i in range(5)]
    page = patients.list(page=1, page_size=2)
    assert page.total == 5 and page.has_next and len(page.items) == 2
    everything = [p for n in (1, 2, 3) for p in patients.list(page=n, page_size=2).items]
    assert [p.mrn for p in everything] == sorted(p.mrn for p in added)
    patients.delete(added[0].id)
    assert patients.list(status=domain.PatientStatus.ACTIVE).total == 4
    with pytest.raises(RuleViolation):
        patients.list(page=0)
