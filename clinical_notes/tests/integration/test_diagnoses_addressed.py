"""A note addresses diagnoses of its patient's problem list: chosen, linked with a history, signed into the hash."""

import dataclasses
import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinical_notes import domain, models, services
from clinical_notes.tests.factories import addressing, drafted, new_note, notes_as, signed
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from diagnoses import services as diagnoses_services
from novamind.domain import RuleViolation
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db


def record(author, patient, code, **fields):
    return diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code=code, **fields), actor=author
    )


def link_history(note_id):
    return list(
        models.AddressedDiagnosis.history.filter(note_id=note_id)
        .order_by("history_id")
        .values_list("history_type", "history_change_reason", "history_user__username")
    )


@pytest.fixture
def depression(author, patient):
    return record(author, patient, "F32.1", is_primary=True)


@pytest.fixture
def anxiety(author, patient):
    return record(author, patient, "F41.1")


@pytest.fixture
def elsewhere(author):
    other = patients_repository.DjangoPatientRepository(actor=author).add(
        patients_domain.Patient(legal_first_name="Sam", legal_last_name="Other", date_of_birth=dt.date(1980, 1, 2))
    )
    return record(author, other, "F43.10")


# --- the services ---------------------------------------------------------------------------------


def test_a_note_addresses_its_patients_diagnoses_each_link_in_the_authors_name(author, patient, depression, anxiety):
    note = drafted(author, patient, diagnoses=[anxiety, depression])
    assert [(d.code, d.id) for d in note.diagnoses] == [("F32.1", depression.id), ("F41.1", anxiety.id)]
    assert {(kind, reason, user) for kind, reason, user in link_history(note.id)} == {("+", "Addressed", "drpatel")}
    assert set(models.ClinicalNote.objects.get(pk=note.id).addressed_diagnoses.values_list("pk", flat=True)) == {
        depression.id,
        anxiety.id,
    }


def test_a_diagnosis_of_another_patient_is_refused_and_nothing_is_written(author, patient, depression, elsewhere):
    with pytest.raises(RuleViolation) as refused:
        drafted(author, patient, diagnoses=[depression, elsewhere])
    assert refused.value.errors == {"diagnoses": [domain.NOT_THIS_PATIENTS]}
    assert models.ClinicalNote.objects.count() == 0 and models.AddressedDiagnosis.history.count() == 0


def test_a_resolved_diagnosis_is_not_newly_chosen_but_one_resolved_since_stays_addressed(
    author, patient, depression, anxiety
):
    note = drafted(author, patient, diagnoses=[depression])
    diagnoses_services.diagnosis_resolve(diagnosis_id=depression.id, actor=author)
    diagnoses_services.diagnosis_resolve(diagnosis_id=anxiety.id, actor=author)
    stored = notes_as(author).get_by_id(note.id)
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).update(dataclasses.replace(stored, diagnoses=addressing(depression, anxiety)))
    assert refused.value.errors == {"diagnoses": [domain.NOT_CURRENT]}
    assert notes_as(author).sign(note.id).diagnosis_ids == {depression.id}


def test_taking_a_diagnosis_off_a_draft_is_in_the_links_history(author, patient, depression, anxiety):
    note = drafted(author, patient, diagnoses=[depression, anxiety])
    stored = notes_as(author).get_by_id(note.id)
    changed = notes_as(author).update(dataclasses.replace(stored, diagnoses=addressing(anxiety)))
    assert changed.diagnosis_ids == {anxiety.id} and changed.audit.version == 2
    assert ("-", "No longer addressed", "drpatel") in link_history(note.id)


def test_discarding_a_draft_removes_its_links_with_their_history(author, patient, depression):
    note = drafted(author, patient, diagnoses=[depression])
    notes_as(author).delete(note.id)
    assert models.AddressedDiagnosis.objects.count() == 0
    assert link_history(note.id)[-1] == ("-", "Draft discarded", "drpatel")


def test_signing_a_progress_note_needs_a_diagnosis_unless_the_clinic_says_otherwise(author, patient, settings):
    note = drafted(author, patient, diagnoses=[])
    with pytest.raises(RuleViolation) as refused:
        notes_as(author).sign(note.id)
    assert refused.value.errors == {"diagnoses": [domain.SIGN_NEEDS_DIAGNOSIS]}
    assert models.ClinicalNote.objects.get(pk=note.id).status == "draft"
    settings.NOVAMIND_SIGN_REQUIRES_DIAGNOSIS = False
    assert notes_as(author).sign(note.id).is_signed


def test_a_psychotherapy_note_addresses_no_diagnosis(author, patient, depression):
    therapy = new_note(author, patient, kind=domain.NoteKind.PSYCHOTHERAPY_NOTE, diagnoses=[depression])
    with pytest.raises(RuleViolation) as refused:
        services.note_create(note=therapy, actor=author)
    assert refused.value.errors == {"diagnoses": [domain.PSYCHOTHERAPY_NO_DIAGNOSES]}


def test_the_signed_hash_covers_the_codes_and_the_links_never_change_afterwards(author, patient, depression, anxiety):
    note = signed(author, patient, diagnoses=[depression])
    row = models.ClinicalNote.objects.get(pk=note.id)
    assert note.content_hash == row.to_domain().compute_hash() != row.to_domain(diagnoses=()).compute_hash()
    with pytest.raises(RuleViolation, match="signed"):
        notes_as(author).update(dataclasses.replace(note, diagnoses=addressing(depression, anxiety)))
    link = models.AddressedDiagnosis.objects.get()
    with pytest.raises(RuleViolation):
        link.delete()  # the model's own backstop, on any path
    with pytest.raises(RuleViolation):
        models.AddressedDiagnosis(note_id=note.id, diagnosis_id=anxiety.id).save()
    assert models.AddressedDiagnosis.objects.count() == 1


def verify(author):
    err = io.StringIO()
    call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_verify_notes_finds_a_link_changed_behind_the_application(author, patient, depression, anxiety):
    intact = signed(author, patient, diagnoses=[depression])
    note = signed(author, patient, diagnoses=[depression])
    assert verify(author) == ""
    table = models.AddressedDiagnosis._meta.db_table
    prep = models.AddressedDiagnosis._meta.pk.get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET diagnosis_id = %s WHERE note_id = %s",  # noqa: S608 - the model's table
            [prep(anxiety.id, connection), prep(note.id, connection)],
        )
    with pytest.raises(CommandError, match="1 problem"):
        verify(author)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    assert str(note.id) in err.getvalue() and str(intact.id) not in err.getvalue()
    assert "F41.1" not in err.getvalue() and "F32.1" not in err.getvalue()


def test_a_diagnosis_addressed_by_a_signed_note_keeps_its_code(author, patient, depression):
    signed(author, patient, diagnoses=[depression])
    stored = diagnoses_services.diagnosis_resolve(diagnosis_id=depression.id, actor=author)
    with pytest.raises(RuleViolation):
        diagnoses_services.diagnosis_update(diagnosis=dataclasses.replace(stored, code="F33.1"), actor=author)
    assert verify(author) == ""


# --- the note form --------------------------------------------------------------------------------


def add_url():
    return reverse("admin:clinical_notes_clinicalnote_add")


def change_url(note_id):
    return reverse("admin:clinical_notes_clinicalnote_change", args=[note_id])


def form_data(patient, **overrides):
    return {
        "patient": str(patient.id),
        "kind": "progress_note",
        "format": "soap",
        "date_of_service": timezone.localdate().isoformat(),
        "subjective": "Reports better sleep.",
        "objective": "Calm.",
        "assessment": "Improving.",
        "plan": "Weekly sessions.",
        "version": "1",
        **overrides,
    }


def test_the_form_offers_the_patients_problem_list_and_starts_with_the_primary_chosen(
    client, author, patient, depression, anxiety, elsewhere
):
    diagnoses_services.diagnosis_resolve(diagnosis_id=anxiety.id, actor=author)
    client.force_login(author)
    page = client.get(add_url(), {"patient": str(patient.id)})
    field = page.context["adminform"].form["diagnoses"]
    assert [choice.data["value"].value for choice in field.subwidgets] == [depression.id]  # current, this patient's
    assert field.value() == [depression.id]
    assert "F32.1 Major depressive disorder, single episode, moderate — primary" in page.content.decode()


def test_the_only_diagnosis_on_the_list_is_chosen_and_none_when_there_are_several_and_no_primary(
    client, author, patient, anxiety
):
    client.force_login(author)
    form = client.get(add_url(), {"patient": str(patient.id)}).context["adminform"].form
    assert form["diagnoses"].value() == [anxiety.id]
    record(author, patient, "F90.0")
    form = client.get(add_url(), {"patient": str(patient.id)}).context["adminform"].form
    assert form["diagnoses"].value() == []


def test_save_and_sign_without_a_diagnosis_is_refused_next_to_the_diagnoses(client, author, patient, depression):
    client.force_login(author)
    response = client.post(add_url(), {**form_data(patient), "_sign": "Save and sign"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["diagnoses"] == [domain.SIGN_NEEDS_DIAGNOSIS]
    assert models.ClinicalNote.objects.count() == 0


def test_a_posted_diagnosis_of_another_patient_is_an_error_next_to_the_field(client, author, patient, elsewhere):
    client.force_login(author)
    response = client.post(add_url(), form_data(patient, diagnoses=[str(elsewhere.id)]))
    assert response.status_code == 200 and "diagnoses" in response.context["adminform"].form.errors
    assert "F43.10" not in response.content.decode()  # the other patient's diagnosis is named nowhere
    assert models.ClinicalNote.objects.count() == 0


def test_saved_and_signed_from_the_form_the_note_shows_what_it_addressed(client, author, patient, depression):
    client.force_login(author)
    response = client.post(add_url(), {**form_data(patient, diagnoses=[str(depression.id)]), "_sign": "Sign"})
    note = models.ClinicalNote.objects.get()
    assert response.status_code == 302 and note.status == "signed"
    assert note.to_domain().diagnosis_ids == {depression.id}
    page = client.get(change_url(note.pk)).content.decode()
    assert "Diagnoses addressed" in page and "F32.1 Major depressive disorder, single episode, moderate" in page


def test_a_psychotherapy_note_from_the_form_ignores_the_chosen_diagnosis(client, author, patient, depression):
    client.force_login(author)
    data = form_data(patient, kind="psychotherapy_note", diagnoses=[str(depression.id)])
    assert client.post(add_url(), data).status_code == 302
    assert models.ClinicalNote.objects.get().to_domain().diagnoses == ()


def test_verify_notes_reports_a_diagnosis_code_that_no_longer_decrypts_and_checks_the_other_notes(
    author, patient, depression, anxiety
):
    broken = signed(author, patient, diagnoses=[depression])
    intact = signed(author, patient, diagnoses=[anxiety])
    table = diagnoses_models.Diagnosis._meta.db_table
    prep = diagnoses_models.Diagnosis._meta.pk.get_db_prep_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET code = %s WHERE id = %s",  # noqa: S608 - the model's table
            ["not a fernet token", prep(depression.id, connection)],
        )
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 problem"):
        call_command("verify_notes", "--actor", author.username, stdout=io.StringIO(), stderr=err)
    assert str(broken.id) in err.getvalue() and "does not decrypt" in err.getvalue()
    assert str(intact.id) not in err.getvalue()
