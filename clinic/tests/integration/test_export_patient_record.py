"""export_patient_record: the patient's copy of their record (right of access), complete and logged.

One chart holds every kind of entry, each carrying a marker string, so the tests can say exactly
what is in the copy (decrypted) and what never is (psychotherapy notes, drafts, other patients).
"""

import dataclasses
import datetime as dt
import io
import json
import os
import re
import stat
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import models as appointments_models
from appointments import repository as appointments_repository
from appointments import services as appointments_services
from assessments import models as assessments_models
from assessments import services as assessments_services
from assessments.tests import builders as assessment_builders
from clinic import record_export
from clinic.management.commands import export_patient_record as command
from clinical_notes import domain as notes_domain
from clinical_notes.tests.factories import drafted, make_clinician, notes_as, signed
from conftest import assign_care, make_staff
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from medications import domain as medications_domain
from medications import repository as medications_repository
from medications.tests.builders import an_order
from novamind import access, audit, commands, encryption
from novamind.models import AccessLogEntry, StaffProfile
from patients import domain as patients_domain
from patients import repository as patients_repository
from treatment_plans import domain as plans_domain
from treatment_plans import services as plans_services
from treatment_plans.tests import factories as plan_factories

pytestmark = pytest.mark.django_db

PSYCHOTHERAPY_MARKER = "PSYCHOTHERAPY-MARKER-q7"
PSYCHOTHERAPY_DRAFT_MARKER = "PSYCHOTHERAPY-DRAFT-MARKER-x2"
DRAFT_MARKER = "DRAFT-MARKER-k9"
PLAN_DRAFT_MARKER = "PLAN-DRAFT-MARKER-d3"
OTHER_PATIENT_MARKER = "OTHER-PATIENT-MARKER-v4"
ALL_WITHHELD = (PSYCHOTHERAPY_MARKER, PSYCHOTHERAPY_DRAFT_MARKER, DRAFT_MARKER, PLAN_DRAFT_MARKER, OTHER_PATIENT_MARKER)


def make_prescriber(username):
    """Return a clinician whose staff profile says prescriber, with a valid DEA number."""
    user = make_staff(username)
    user.last_name = "Rx"
    user.save()
    audit.audited_save(
        StaffProfile(
            user=user,
            credentials="MD",
            is_clinician=True,
            is_prescriber=True,
            dea_number="BL1234563",
        ),
        actor=user,
    )
    return user


def at_local(day_offset, hour):
    """Return an aware local datetime `day_offset` days from today at `hour`:00."""
    day = timezone.localdate() + dt.timedelta(days=day_offset)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@dataclasses.dataclass
class Chart:
    """The patient under test and the records written about them."""

    patient: patients_domain.Patient
    other_patient: patients_domain.Patient
    clinician: object
    completed: appointments_domain.Appointment
    cancelled: appointments_domain.Appointment
    soap_note: notes_domain.ClinicalNote
    first_order: medications_domain.MedicationOrder
    revised_order: medications_domain.MedicationOrder
    stopped_order: medications_domain.MedicationOrder
    first_plan: plans_domain.TreatmentPlan
    current_plan: plans_domain.TreatmentPlan


PLAN_APPS = ("patients", "diagnoses", "appointments", "clinical_notes", "medications", "assessments", "treatment_plans")


@pytest.fixture
def operator(db):
    """The staff member who makes the copy."""
    return make_staff("alice", permissions=PLAN_APPS)


def with_plans(user):
    """Return `user` (a clinician of the notes' factories) also allowed to write treatment plans."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="treatment_plans"))
    return get_user_model().objects.get(pk=user.pk)  # no cached permissions


@pytest.fixture
def chart(operator):
    clinician = make_clinician("drpatel")
    supervisor = make_clinician("drlee", supervisor=True)
    prescriber = make_prescriber("drrx")
    patients = patients_repository.DjangoPatientRepository(actor=operator)
    patient = patients.add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor-Marker",
            preferred_name="Rob",
            pronouns="they/them",
            date_of_birth=dt.date(1990, 5, 17),
            sex_assigned_at_birth=patients_domain.SexAssignedAtBirth.INTERSEX,
            gender_identity="Nonbinary-marker",
            phone="(617) 555-0134",
            email="robin.okafor@example.org",
            address=patients_domain.Address(
                line1="12 Elm Street", line2="Apt 3", city="Somerville", region="MA", postal_code="02143", country="USA"
            ),
            emergency_contact=patients_domain.EmergencyContact(
                name="Ada Okafor", relation="mother", phone="(617) 555-0199"
            ),
        )
    )
    other_patient = patients.add(
        patients_domain.Patient(
            legal_first_name="Sam",
            legal_last_name="Other",
            date_of_birth=dt.date(1985, 1, 2),
        )
    )

    # Appointments: one completed last week, one cancelled by the patient, one upcoming by video.
    room = audit.audited_save(appointments_models.Room(name="Room 7"), actor=operator)
    booking = appointments_repository.DjangoAppointmentRepository(actor=operator)
    start = at_local(-7, 10)
    completed = appointments_services.appointment_book(
        actor=booking.actor,
        now=start - dt.timedelta(days=1),
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            room_id=room.pk,
            reason_for_visit="Visit-reason-MARKER: low mood",
            kind=appointments_domain.Kind.INTAKE,
        ),
    )
    appointments_services.appointment_check_in(actor=booking.actor, appointment_id=completed.id, now=start)
    completed = appointments_services.appointment_complete(
        actor=booking.actor, appointment_id=completed.id, now=start + dt.timedelta(minutes=50)
    )
    start = at_local(3, 11)
    cancelled = appointments_services.appointment_book(
        actor=booking.actor,
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            room_id=room.pk,
        ),
    )
    cancelled = appointments_services.appointment_cancel(
        actor=booking.actor,
        appointment_id=cancelled.id,
        by=appointments_domain.CancelledBy.PATIENT,
        reason="Cancel-MARKER: travelling",
    )
    start = at_local(10, 9)
    appointments_services.appointment_book(
        actor=booking.actor,
        appointment=appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
        ),
    )

    # Diagnoses: recurrent depression (primary, with a specifier) and anxiety, resolved last month.
    depression = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(
            patient_id=patient.id,
            code="F33.1",
            specifier="Specifier-MARKER: with anxious distress",
            onset_date=timezone.localdate() - dt.timedelta(days=90),
            is_primary=True,
        ),
        actor=clinician,
    )
    anxiety = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code="F41.1"), actor=clinician
    )
    diagnoses_services.diagnosis_resolve(
        diagnosis_id=anxiety.id, on=timezone.localdate() - dt.timedelta(days=30), actor=clinician
    )

    # Notes: SOAP (addendum, co-signed), DAP and free text signed; a draft; psychotherapy notes.
    sections = notes_domain.Sections
    soap_note = signed(
        clinician,
        patient,
        diagnoses=[depression],
        days_ago=6,
        sections=sections(
            subjective="Subjective-MARKER: sleeping badly <b>not bold</b>",
            objective="Objective-MARKER",
            assessment="Assessment-MARKER",
            plan="Plan-MARKER",
        ),
    )
    notes = notes_as(clinician)
    notes.add_addendum(soap_note.id, text="Addendum-MARKER: dose was 50 mg, not 5 mg.", reason="Reason-MARKER: typo")
    notes.request_cosignature(soap_note.id, supervisor_id=supervisor.pk)
    notes_as(supervisor).cosign(soap_note.id)
    signed(
        clinician,
        patient,
        days_ago=4,
        format=notes_domain.NoteFormat.DAP,
        kind=notes_domain.NoteKind.TREATMENT_PLAN,
        sections=sections(data="Data-MARKER", assessment="DAP-assessment", plan="DAP-plan"),
    )
    signed(
        clinician,
        patient,
        days_ago=2,
        format=notes_domain.NoteFormat.FREE_TEXT,
        kind=notes_domain.NoteKind.DISCHARGE_SUMMARY,
        sections=sections(body="Body-MARKER\nsecond line"),
    )
    drafted(clinician, patient, sections=sections(subjective=DRAFT_MARKER, objective="o", assessment="a", plan="p"))
    signed(
        clinician,
        patient,
        kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE,
        format=notes_domain.NoteFormat.FREE_TEXT,
        sections=sections(body=PSYCHOTHERAPY_MARKER),
    )
    drafted(
        clinician,
        patient,
        kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE,
        format=notes_domain.NoteFormat.FREE_TEXT,
        sections=sections(body=PSYCHOTHERAPY_DRAFT_MARKER),
    )
    signed(
        clinician,
        other_patient,
        sections=sections(subjective=OTHER_PATIENT_MARKER, objective="o", assessment="a", plan="p"),
    )

    # Medications: sertraline revised to 100 mg, lorazepam stopped for an adverse effect; allergies.
    orders = medications_repository.DjangoMedicationOrderRepository(actor=prescriber)
    begun = timezone.localdate() - dt.timedelta(days=40)
    first = orders.add(
        an_order(
            patient_id=patient.id, prescriber=None, start_date=begun, instructions="Instructions-MARKER: with food"
        )
    )
    revised = orders.revise(dataclasses.replace(first, dose_amount=Decimal("100"), strength="100 mg"))
    lorazepam = orders.add(
        an_order(
            patient_id=patient.id,
            prescriber=None,
            start_date=begun,
            drug_name="lorazepam",
            strength="0.5 mg",
            dose_amount=Decimal("0.5"),
            schedule=medications_domain.Schedule.IV,
            refills=0,
            frequency=medications_domain.Frequency(
                kind=medications_domain.FrequencyKind.EVERY_N_HOURS,
                interval=8,
                as_needed=True,
                indication="Indication-MARKER: panic",
            ),
        )
    )
    stopped = orders.discontinue(
        lorazepam.id, reason=medications_domain.DiscontinueReason.ADVERSE_EFFECT, note="Stop-note-MARKER: drowsy"
    )
    allergies = medications_repository.DjangoAllergyRepository(actor=operator)
    allergies.add(
        medications_domain.Allergy(
            patient_id=patient.id,
            substance="Penicillin-MARKER",
            reaction="hives",
            severity=medications_domain.AllergySeverity.MODERATE,
        )
    )
    mistaken = allergies.add(medications_domain.Allergy(patient_id=patient.id, substance="Latex-MARKER"))
    allergies.delete(mistaken.id)

    # Treatment plans: version 1 superseded by version 2 (agreed, with progress from the SOAP
    # note), and a draft of version 3 that the copy leaves out.
    planner = with_plans(clinician)
    diagnosis = plan_factories.current_diagnosis(patient, actor=planner)  # the primary F33.1 above
    first_plan = plan_factories.signed(planner, patient, diagnosis=diagnosis, problems="Problems-MARKER: no energy")
    current_plan = plan_factories.revised_and_signed(planner, first_plan)
    plans_services.plan_agreement_record(
        plan_id=current_plan.id,
        agreed_on=timezone.localdate(),
        method=plans_domain.AgreementMethod.SIGNED_IN_PERSON,
        note="Agreement-MARKER: copy given",
        actor=planner,
    )
    plans_services.objective_progress_record(
        objective_id=current_plan.goals[0].objectives[0].id,
        note_id=soap_note.id,
        status=plans_domain.ObjectiveStatus.IN_PROGRESS,
        rating=plans_domain.ProgressRating.SOME,
        comment="Progress-MARKER: up early twice",
        actor=planner,
    )
    draft = plans_services.plan_revise(plan_id=current_plan.id, actor=planner)
    plans_services.plan_update(plan=dataclasses.replace(draft, problems=PLAN_DRAFT_MARKER), actor=planner)
    # Questionnaires: a PHQ-9 with a risk answer, reviewed by the care team; a GAD-7 voided.
    assign_care(patient, clinician, by=operator)
    phq9 = assessment_builders.record(clinician, patient.id, total=16, item9=1, days_ago=5)
    alert = assessments_models.SafetyAlert.objects.get(response_id=phq9.id)
    assessments_services.alert_review(alert_id=alert.pk, action_taken="Action-MARKER: called, safe.", actor=clinician)
    gad7 = assessment_builders.record(clinician, patient.id, instrument="gad7", total=6, days_ago=3)
    assessments_services.response_void(response_id=gad7.id, reason="Void-MARKER: twice", actor=clinician)
    return Chart(
        patient=patient,
        other_patient=other_patient,
        clinician=clinician,
        completed=completed,
        cancelled=cancelled,
        soap_note=soap_note,
        first_order=orders.get_by_id(first.id),
        revised_order=revised,
        stopped_order=stopped,
        first_plan=first_plan,
        current_plan=plans_services_get(planner, current_plan.id),
    )


def plans_services_get(actor, plan_id):
    from treatment_plans import repository as plans_repository

    return plans_repository.DjangoTreatmentPlanRepository(actor=actor).get_by_id(plan_id)


def export(*args, **options):
    """Run the command; return (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("export_patient_record", *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def exported(chart, tmp_path, format="json"):
    """Export the chart's patient to a file and return the file's text."""
    path = tmp_path / f"record.{format}"
    export("--patient", chart.patient.mrn, "--format", format, "--output", str(path), "--actor", "alice")
    return path.read_text(encoding="utf-8")


def disclosures():
    return list(AccessLogEntry.objects.filter(action=record_export.DISCLOSURE_ACTION).order_by("sequence"))


# --- The JSON copy -------------------------------------------------------------------------------


def test_the_json_copy_is_a_versioned_document_saying_who_made_it_and_when(chart, tmp_path):
    before = timezone.now()
    text = exported(chart, tmp_path)
    document = json.loads(text)
    # Written piece by piece, laid out exactly as json.dumps would lay out the whole document.
    assert text == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    assert document["schema"] == "novamind.patient_record" and document["schema_version"] == 1
    assert document["generated_by"] == {"username": "alice", "name": "Alice"}
    made = dt.datetime.fromisoformat(document["generated_at"])
    assert made.tzinfo is not None and before - dt.timedelta(seconds=1) <= made <= timezone.now()
    assert "164.524" in document["scope"]["basis"] and "Psychotherapy notes" in document["scope"]["psychotherapy_notes"]
    assert list(document) == [
        "schema",
        "schema_version",
        "generated_at",
        "generated_by",
        "time_zone",
        "scope",
        "patient",
        "diagnoses",
        "appointments",
        "allergies",
        "medication_orders",
        "questionnaire_responses",
        "risk_answer_alerts",
        "clinical_notes",
        "treatment_plans",
        "counts",
    ]


def test_the_demographics_are_decrypted(chart, tmp_path):
    patient = json.loads(exported(chart, tmp_path))["patient"]
    assert patient["mrn"] == chart.patient.mrn
    assert (patient["legal_first_name"], patient["legal_last_name"], patient["preferred_name"]) == (
        "Robin",
        "Okafor-Marker",
        "Rob",
    )
    assert patient["date_of_birth"] == "1990-05-17" and patient["sex_assigned_at_birth"] == "intersex"
    assert patient["phone"] == "+16175550134" and patient["email"] == "robin.okafor@example.org"
    assert patient["address"]["line1"] == "12 Elm Street" and patient["address"]["postal_code"] == "02143"
    assert patient["emergency_contact"] == {"name": "Ada Okafor", "relation": "mother", "phone": "+16175550199"}
    assert patient["status"] == "active"


def test_the_diagnoses_are_listed_current_first_with_their_codes_descriptions_and_dates(chart, tmp_path):
    document = json.loads(exported(chart, tmp_path))
    assert [
        (d["code"], d["description"], d["status"], d["is_primary"], d["specifier"]) for d in document["diagnoses"]
    ] == [
        (
            "F33.1",
            "Major depressive disorder, recurrent, moderate",
            "active",
            True,
            "Specifier-MARKER: with anxious distress",
        ),
        ("F41.1", "Generalized anxiety disorder", "resolved", False, ""),
    ]
    resolved = document["diagnoses"][1]
    assert resolved["status_since"] == (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    soap_note = document["clinical_notes"][0]
    assert soap_note["diagnoses"] == [
        {
            "diagnosis_id": document["diagnoses"][0]["id"],
            "code": "F33.1",
            "description": "Major depressive disorder, recurrent, moderate",
        }
    ]


@pytest.mark.parametrize("format", record_export.FORMATS)
def test_another_patients_diagnoses_are_never_in_the_copy(chart, tmp_path, format):
    text = exported(chart, tmp_path, format)
    assert "F33.1" in text and "F32.1" not in text  # the other patient's note addressed F32.1


def test_the_appointments_are_listed_oldest_first_with_what_became_of_them(chart, tmp_path):
    appointments = json.loads(exported(chart, tmp_path))["appointments"]
    assert [a["status"] for a in appointments] == ["completed", "cancelled", "scheduled"]
    completed, cancelled, upcoming = appointments
    assert completed["id"] == str(chart.completed.id) and completed["kind"] == "intake"
    assert completed["reason_for_visit"] == "Visit-reason-MARKER: low mood"
    assert completed["clinician"] == "Drpatel" and completed["room"] == "Room 7"
    assert dt.datetime.fromisoformat(completed["start"]) == chart.completed.start
    assert completed["checked_in_at"] is not None
    assert cancelled["cancelled_by"] == "patient" and cancelled["cancellation_reason"] == "Cancel-MARKER: travelling"
    assert upcoming["modality"] == "telehealth" and upcoming["room"] is None


def test_signed_notes_are_included_with_their_sections_and_addenda(chart, tmp_path):
    notes = json.loads(exported(chart, tmp_path))["clinical_notes"]
    assert [n["format"] for n in notes] == ["soap", "dap", "free_text"]  # oldest first
    soap_note, dap, free_text = notes
    assert soap_note["id"] == str(chart.soap_note.id) and soap_note["status"] == "signed"
    assert soap_note["sections"] == {
        "subjective": "Subjective-MARKER: sleeping badly <b>not bold</b>",
        "objective": "Objective-MARKER",
        "assessment": "Assessment-MARKER",
        "plan": "Plan-MARKER",
    }
    assert soap_note["author"] == "Drpatel" and soap_note["signed_by"] == "Drpatel"
    assert soap_note["content_hash"] == chart.soap_note.content_hash
    assert soap_note["cosigned_by"] == "Drlee" and soap_note["cosigned_at"] is not None
    [addendum] = soap_note["addenda"]
    assert (
        addendum["text"] == "Addendum-MARKER: dose was 50 mg, not 5 mg." and addendum["reason"] == "Reason-MARKER: typo"
    )
    assert addendum["author"] == "Drpatel" and len(addendum["content_hash"]) == 64
    assert dap["sections"] == {"data": "Data-MARKER", "assessment": "DAP-assessment", "plan": "DAP-plan"}
    assert dap["kind"] == "treatment_plan" and dap["addenda"] == []
    assert free_text["sections"] == {"body": "Body-MARKER\nsecond line"}


@pytest.mark.parametrize("format", record_export.FORMATS)
def test_psychotherapy_notes_drafts_and_other_patients_are_never_in_the_copy(chart, tmp_path, format):
    text = exported(chart, tmp_path, format)
    assert "Subjective-MARKER" in text and "Body-MARKER" in text  # the copy did read notes
    for marker in ALL_WITHHELD:
        assert marker not in text


def test_the_copy_counts_what_it_holds_and_the_drafts_it_leaves_out(chart, tmp_path):
    counts = json.loads(exported(chart, tmp_path))["counts"]
    # One general draft; the psychotherapy draft is not counted either, so the copy reveals nothing of it.
    assert counts == {
        "diagnoses": 2,
        "appointments": 3,
        "clinical_notes": 3,
        "addenda": 1,
        "medication_orders": 3,
        "allergies": 2,
        "questionnaire_responses": 2,
        "risk_answer_alerts": 1,
        "drafts_not_included": 1,
        "treatment_plans": 2,
        "plan_drafts_not_included": 1,
    }


def test_the_treatment_plan_timeline_is_in_the_copy_with_its_progress_and_agreement(chart, tmp_path):
    plans = json.loads(exported(chart, tmp_path))["treatment_plans"]
    first, current = plans
    assert (first["id"], first["version"], first["status"]) == (str(chart.first_plan.id), 1, "superseded")
    assert (current["version"], current["status"], current["replaces_id"]) == (2, "signed", first["id"])
    assert first["replaced_by_id"] == current["id"] and current["content_hash"] == chart.current_plan.content_hash
    assert current["problems"] == "Problems-MARKER: no energy" and current["signed_by"] == "Drpatel"
    assert current["diagnoses"] == [
        {
            "diagnosis_id": current["diagnoses"][0]["diagnosis_id"],
            "code": "F33.1",
            "description": current["diagnoses"][0]["description"],
        }
    ]
    assert current["diagnoses"][0]["description"].startswith("Major depressive disorder, recurrent")
    objective = current["goals"][0]["objectives"][0]
    assert objective["text"] == "Out of bed by 9 on 5 days a week." and objective["status"] == "not_started"
    assert [(p["status"], p["rating"], p["comment"], p["note_id"]) for p in objective["progress"]] == [
        ("in_progress", "some", "Progress-MARKER: up early twice", str(chart.soap_note.id))
    ]
    assert current["agreement"] == {
        "agreed_on": timezone.localdate().isoformat(),
        "method": "signed_in_person",
        "note": "Agreement-MARKER: copy given",
    }
    assert current["interventions"][0]["responsible_clinician"] == "Drpatel"
    assert first["goals"][0]["objectives"][0]["progress"] == []  # progress belongs to the version it was recorded on


def test_the_medication_timeline_keeps_revised_and_discontinued_orders(chart, tmp_path):
    orders = json.loads(exported(chart, tmp_path))["medication_orders"]
    by_id = {order["id"]: order for order in orders}
    first, revised, stopped = (by_id[str(o.id)] for o in (chart.first_order, chart.revised_order, chart.stopped_order))
    assert first["status"] == "discontinued" and first["discontinue_reason"] == "changed"
    assert first["replaced_by_id"] == revised["id"] and revised["replaces_id"] == first["id"]
    assert (first["dose_amount"], revised["dose_amount"]) == ("50", "100")
    assert revised["status"] == "active" and revised["directions"] == "100 mg by mouth once daily"
    assert revised["instructions"] == "Instructions-MARKER: with food" and revised["prescriber"] == "Drrx Rx, MD"
    assert stopped["status"] == "discontinued" and stopped["discontinue_reason"] == "adverse_effect"
    assert stopped["discontinue_note"] == "Stop-note-MARKER: drowsy" and stopped["schedule"] == "IV"
    assert stopped["frequency"] == {
        "kind": "every_n_hours",
        "interval": 8,
        "as_needed": True,
        "indication": "Indication-MARKER: panic",
    }
    starts = [(order["start_date"]) for order in orders]
    assert starts == sorted(starts)  # a timeline, oldest first


def test_allergies_include_retired_entries_with_their_status(chart, tmp_path):
    allergies = json.loads(exported(chart, tmp_path))["allergies"]
    assert [(a["substance"], a["reaction"], a["severity"], a["status"]) for a in allergies] == [
        ("Penicillin-MARKER", "hives", "moderate", "active"),
        ("Latex-MARKER", "", "unknown", "entered_in_error"),
    ]


def test_questionnaires_are_in_the_copy_item_by_item_with_their_risk_answers_and_what_was_done(chart, tmp_path):
    document = json.loads(exported(chart, tmp_path))
    phq9, gad7 = document["questionnaire_responses"]
    assert (phq9["questionnaire"], phq9["total"], phq9["band"], phq9["status"]) == (
        "PHQ-9",
        16,
        "Moderately severe",
        "recorded",
    )
    ninth = phq9["answers"][8]
    assert ninth == {
        "item": 9,
        "question": "Thoughts that you would be better off dead or of hurting yourself in some way",
        "answer": "Several days",
        "points": 1,
    }
    assert phq9["answers"][9]["points"] is None  # item 10 is asked, not scored
    assert (gad7["status"], gad7["void_reason"]) == ("voided", "Void-MARKER: twice") and gad7["voided_at"]
    [alert] = document["risk_answer_alerts"]
    assert alert["response_id"] == phq9["id"] and alert["status"] == "reviewed"
    assert alert["action_taken"] == "Action-MARKER: called, safe." and alert["reviewed_by"].startswith("Drpatel")
    page = exported(chart, tmp_path, "html")
    assert "Questionnaires (2)" in page and "Action-MARKER: called, safe." in page and "VOIDED" in page


def _paths(value, prefix=""):
    """Return every key path of a JSON object ("address.line1")."""
    paths = set()
    for key, item in value.items():
        paths.add(prefix + key)
        if isinstance(item, dict):
            paths |= _paths(item, f"{prefix}{key}.")
    return paths


def _items(document, section):
    """Return the JSON objects that hold the rows of `section` ("clinical_notes.addenda")."""
    items = [document]
    for part in section.split("."):
        found = []
        for item in items:
            value = item[part]
            found.extend(value if isinstance(value, list) else [value])
        items = found
    return items


@pytest.mark.parametrize("label", sorted(record_export.COVERAGE))
def test_every_column_of_the_record_is_in_the_copy_or_left_out_for_a_stated_reason(chart, tmp_path, label):
    coverage = record_export.COVERAGE[label]
    columns = {field.name for field in apps.get_model(label)._meta.concrete_fields}
    declared = set(coverage.exported) | set(coverage.withheld)
    assert not set(coverage.exported) & set(coverage.withheld)
    assert columns - declared == set(), f"{label}: add the new column to record_export.COVERAGE"
    assert declared - columns == set(), f"{label}: COVERAGE names columns the model no longer has"
    assert all(reason.strip() for reason in coverage.withheld.values())
    items = _items(json.loads(exported(chart, tmp_path)), coverage.section)
    assert items, f"the chart has no {coverage.section}"
    present = set().union(*(_paths(item) for item in items))
    assert set(coverage.exported.values()) - present == set()


# --- The HTML copy -------------------------------------------------------------------------------


def test_the_html_copy_shows_every_section_with_decrypted_content(chart, tmp_path):
    page = exported(chart, tmp_path, "html")
    assert page.startswith("<!DOCTYPE html>") and f"<title>Patient record {chart.patient.mrn}</title>" in page
    for heading in (
        "Demographics",
        "Diagnoses (ICD-10-CM)",
        "Allergies",
        "Medications",
        "Appointments",
        "Clinical notes (3 signed)",
    ):
        assert heading in page
    for text in (
        "Okafor-Marker, Robin (Rob)",
        "12 Elm Street",
        "Major depressive disorder, recurrent, moderate (primary)",
        "Specifier-MARKER: with anxious distress",
        "Addressed: F33.1 Major depressive disorder, recurrent, moderate",
        "Visit-reason-MARKER: low mood",
        "Cancel-MARKER: travelling",
        "Objective-MARKER",
        "Data-MARKER",
        "Body-MARKER\nsecond line",
        "Addendum-MARKER: dose was 50 mg, not 5 mg.",
        "Reason: Reason-MARKER: typo",
        "Co-signed",
        "Stop-note-MARKER: drowsy",
        "Adverse effect",
        "Changed (replaced by a revised order)",
        f"revised by order {str(chart.revised_order.id)[:8]}",
        "Penicillin-MARKER",
        "Entered in error",
        "1 unsigned draft note not yet part of the record",
    ):
        assert text in page, text
    # Clinical text is escaped, never interpreted as markup.
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>not bold</b>" not in page


def test_the_html_copy_is_self_contained_no_scripts_and_no_outside_addresses(chart, tmp_path):
    page = exported(chart, tmp_path, "html")
    lowered = page.lower()
    assert "<script" not in lowered and "javascript:" not in lowered
    assert not re.search(r"\b(src|href|action)\s*=", lowered)
    assert "url(" not in lowered and "@import" not in lowered and "<link" not in lowered
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}", lowered)
    assert "<style>" in lowered and "@media print" in lowered
    assert "content-security-policy" in lowered and "default-src 'none'" in lowered


# --- Output, logging and memory ----------------------------------------------------------------------


def test_the_file_is_created_private_and_no_temporary_file_is_left(chart, tmp_path):
    path = tmp_path / "copy.json"
    out, _ = export("--patient", chart.patient.mrn, "--format", "json", "--output", str(path), "--actor", "alice")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(tmp_path) == ["copy.json"]
    assert f"Wrote the json record of {chart.patient.mrn} to {path}" in out and "3 signed notes with 1 addendum" in out
    assert "Robin" not in out and "MARKER" not in out


def test_without_output_the_copy_goes_to_standard_output_alone(chart):
    out, err = export("--patient", chart.patient.mrn.lower(), "--format", "json", "--actor", "alice")
    document = json.loads(out)
    assert document["patient"]["mrn"] == chart.patient.mrn
    assert f"Exported the json record of {chart.patient.mrn}" in err and "MARKER" not in err
    html, _ = export("--patient", chart.patient.mrn, "--format", "html", "--actor", "alice")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_the_export_is_logged_as_one_disclosure_and_the_chain_still_verifies(chart, tmp_path, operator):
    exported(chart, tmp_path)
    [entry] = disclosures()
    assert (entry.user, entry.patient_id, entry.patient_mrn) == (operator, chart.patient.id, chart.patient.mrn)
    assert entry.category == "designated_record_set" and entry.outcome == access.GRANTED
    assert "164.524" in entry.detail and "3 signed notes with 1 addendum" in entry.detail
    assert not any(word in entry.detail for word in ("Robin", "Okafor", "MARKER", "sertraline"))
    assert access.verify().ok
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "entries verified" in out.getvalue()


def test_notes_are_read_in_chunks_so_queries_do_not_grow_with_their_number(chart, operator, monkeypatch):
    monkeypatch.setattr(record_export, "NOTE_CHUNK", 2)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            record_export.export(patient=chart.patient, actor=operator, format="json", out=io.StringIO())
        return len(captured)

    before = queries()
    for days_ago in range(8, 12):
        signed(chart.clinician, chart.patient, days_ago=days_ago)
    after = queries()
    # Three notes more than twice the chunk: at most three more chunks, each a fetch and its addenda.
    assert after - before <= 6


@pytest.mark.parametrize("format", record_export.FORMATS)
def test_a_patient_with_nothing_recorded_gets_a_valid_empty_copy(operator, tmp_path, format):
    patient = patients_repository.DjangoPatientRepository(actor=operator).add(
        patients_domain.Patient(legal_first_name="Nova", legal_last_name="Empty", date_of_birth=dt.date(2000, 1, 1))
    )
    path = tmp_path / "empty"
    export("--patient", patient.mrn, "--format", format, "--output", str(path), "--actor", "alice")
    text = path.read_text(encoding="utf-8")
    if format == "json":
        document = json.loads(text)
        assert document["clinical_notes"] == [] and document["appointments"] == []
        assert set(document["counts"].values()) == {0}
    else:
        assert "No signed clinical notes." in text and "No allergies recorded." in text


# --- Bad input ------------------------------------------------------------------------------------


@pytest.fixture
def inactive(db):
    user = make_staff("gone")
    user.is_active = False
    user.save()
    return user


@pytest.mark.parametrize(
    "args, message",
    [
        (["--patient", "12345", "--format", "json", "--actor", "alice"], "is not a NovaMind MRN"),
        (["--patient", "NM00000000", "--format", "json", "--actor", "alice"], "no patient has this MRN"),
        (["--patient", "{mrn}", "--format", "json", "--actor", "nobody"], "no user named 'nobody'"),
        (["--patient", "{mrn}", "--format", "json", "--actor", "gone"], "not an active staff user"),
        (["--patient", "{mrn}", "--format", "pdf", "--actor", "alice"], "invalid choice: 'pdf'"),
        (["--patient", "{mrn}", "--actor", "alice"], "--format"),
        (
            ["--patient", "{mrn}", "--format", "json", "--output", "{tmp}/missing/x.json", "--actor", "alice"],
            "does not exist",
        ),
        (
            ["--patient", "{mrn}", "--format", "json", "--output", "{tmp}/taken.json", "--actor", "alice"],
            "already exists",
        ),
        (["--patient", "{mrn}", "--format", "json", "--output", "{tmp}", "--actor", "alice"], "is a directory"),
        (
            ["--patient", "{mrn}", "--format", "json", "--output", "{tmp}/taken.json/x", "--actor", "alice"],
            "does not exist",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written_or_logged(chart, tmp_path, inactive, args, message):
    (tmp_path / "taken.json").write_text("someone else's file")
    args = [arg.format(mrn=chart.patient.mrn, tmp=tmp_path) for arg in args]
    with pytest.raises(CommandError, match=re.escape(message)):
        export(*args)
    assert sorted(os.listdir(tmp_path)) == ["taken.json"]
    assert (tmp_path / "taken.json").read_text() == "someone else's file"
    assert disclosures() == []


def test_an_unwritable_directory_is_a_clear_error(chart, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(commands.tempfile, "mkstemp", refuse)
    with pytest.raises(CommandError, match="cannot create a file in .*Permission denied"):
        export(
            "--patient", chart.patient.mrn, "--format", "json", "--output", str(tmp_path / "x.json"), "--actor", "alice"
        )
    assert os.listdir(tmp_path) == [] and disclosures() == []


def fail_on_second_note(monkeypatch, error):
    original, calls = record_export.note_json, []

    def failing(entry):
        calls.append(entry)
        if len(calls) == 2:
            raise error
        return original(entry)

    monkeypatch.setattr(record_export, "note_json", failing)


@pytest.mark.parametrize(
    "error, message",
    [
        (encryption.DecryptionError("bad token"), "does not decrypt"),
        (OSError(28, "No space left on device"), "No space left on device"),
    ],
)
def test_a_failure_part_way_leaves_no_file_and_no_disclosure(chart, tmp_path, monkeypatch, error, message):
    fail_on_second_note(monkeypatch, error)
    with pytest.raises(CommandError, match=message):
        export(
            "--patient", chart.patient.mrn, "--format", "json", "--output", str(tmp_path / "x.json"), "--actor", "alice"
        )
    assert os.listdir(tmp_path) == [] and disclosures() == []
    assert access.verify().ok


def test_an_export_whose_disclosure_cannot_be_logged_leaves_no_file(chart, tmp_path, monkeypatch):
    class LogWriteFailed(Exception):
        pass

    def broken(**kwargs):
        raise LogWriteFailed

    monkeypatch.setattr(record_export.access, "record", broken)
    with pytest.raises(LogWriteFailed):
        export(
            "--patient", chart.patient.mrn, "--format", "json", "--output", str(tmp_path / "x.json"), "--actor", "alice"
        )
    assert os.listdir(tmp_path) == [] and disclosures() == []


def test_a_wrong_encryption_key_is_a_clear_error_not_a_traceback(chart, tmp_path):
    from cryptography.fernet import Fernet

    with encryption.keys([Fernet.generate_key().decode()]), pytest.raises(CommandError, match="does not decrypt"):
        export(
            "--patient", chart.patient.mrn, "--format", "html", "--output", str(tmp_path / "x.html"), "--actor", "alice"
        )
    assert os.listdir(tmp_path) == [] and disclosures() == []


def test_a_failure_after_part_went_to_standard_output_is_logged_as_incomplete(chart, monkeypatch):
    fail_on_second_note(monkeypatch, encryption.DecryptionError("bad token"))
    with pytest.raises(CommandError, match="does not decrypt.*standard output is incomplete"):
        export("--patient", chart.patient.mrn, "--format", "json", "--actor", "alice")
    [entry] = disclosures()
    assert "INCOMPLETE" in entry.detail and entry.patient_mrn == chart.patient.mrn
    assert access.verify().ok


def test_help_explains_the_command():
    parser = command.Command().create_parser("manage.py", "export_patient_record")
    text = " ".join(parser.format_help().split())
    for phrase in (
        "164.524",
        "Psychotherapy notes are never included",
        "unsigned drafts",
        "mode 0600",
        "--patient MRN",
        "--format {json,html,fhir}",  # fhir: the writer the fhir app registers
        "--output PATH",
        "--actor USERNAME",
        "access log",
    ):
        assert phrase in text, phrase
