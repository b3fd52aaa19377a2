"""purge_expired: expired records go from every live and history table; young, active and held ones stay."""

import contextlib
import dataclasses
import datetime as dt
import io
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db import models as db_models
from django.test import override_settings
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import repository as appointments_repository
from appointments import services as appointments_services
from assessments.tests import builders as assessment_builders
from clinic import checks, retention
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes import services as notes_services
from clinical_notes.tests.factories import addressing, notes_as
from conftest import assign_care, make_staff, owner_rights
from diagnoses import domain as diagnoses_domain
from diagnoses import services as diagnoses_services
from medications import domain as medications_domain
from medications import repository as medications_repository
from medications.tests.builders import an_order
from novamind import access, audit, chains, encryption
from novamind.domain import RuleViolation
from novamind.models import AccessLogEntry, HistoryErasure, StaffProfile
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository
from patients import services
from treatment_plans import domain as plans_domain
from treatment_plans import services as plans_services
from treatment_plans.tests import factories as plan_factories

pytestmark = pytest.mark.django_db

YEARS_AGO = 12  # older than the default period of 10 years
_names = itertools.count()
_weeks = itertools.count()


@pytest.fixture(autouse=True)
def first_week():
    """Start each test's records in the coming weeks (they must stay far older than the period once aged)."""
    global _weeks
    _weeks = itertools.count()


def run(*args):
    """Run purge_expired: a real run as the database owner, as in production; a dry run as the application."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.nullcontext() if "--dry-run" in args else owner_rights():
        call_command("purge_expired", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def drlee(staff):
    """A psychiatrist: clinician and prescriber (with a DEA number), who writes the notes, orders and plans."""
    user = make_staff(
        "drlee",
        permissions=(
            "patients",
            "diagnoses",
            "appointments",
            "clinical_notes",
            "medications",
            "assessments",
            "treatment_plans",
        ),
    )
    audit.audited_save(
        StaffProfile(user=user, credentials="MD", is_clinician=True, is_prescriber=True, dea_number="BL1234563"),
        actor=staff,
    )
    return user


def register(staff, *, born=dt.date(1980, 4, 2), **details):
    """Return a stored domain Patient."""
    n = next(_names)
    return patients_repository.DjangoPatientRepository(actor=staff).add(
        patients_domain.Patient(
            legal_first_name=f"Purgefirst{n}",
            legal_last_name=f"Purgelast{n}",
            date_of_birth=born,
            **details,
        )
    )


def at(days: int, hour: int = 10) -> dt.datetime:
    """Return an aware local datetime `days` from today at `hour`:00."""
    return timezone.make_aware(dt.datetime.combine(timezone.localdate() + dt.timedelta(days=days), dt.time(hour)))


def build_record(patient, *, staff, clinician):
    """Give `patient` a full record in every part: visits (one rescheduled, a series), diagnoses (one
    resolved), notes with an addendum, a psychotherapy note and its authorization, a discarded draft
    (both progress notes address the primary diagnosis), a revised order, an allergy, a questionnaire
    with a risk answer and a treatment plan revised once (with progress from the signed note, and a draft of its next version whose goal
    was removed: only history rows left). Each record uses its own three weeks, so records never
    compete for the clinician's time."""
    day = 21 * next(_weeks) + 2
    appointments = appointments_repository.DjangoAppointmentRepository(actor=staff)
    visit = appointments.add(
        appointments_domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=at(day),
            end=at(day) + dt.timedelta(minutes=50),
            modality=appointments_domain.Modality.TELEHEALTH,
            reason_for_visit="Low mood",
        )
    )
    appointments_services.appointment_reschedule(
        actor=appointments.actor,
        appointment_id=visit.id,
        start=at(day + 1),
        end=at(day + 1) + dt.timedelta(minutes=50),
    )
    appointments_services.series_book(
        actor=appointments.actor,
        series=appointments_domain.Series(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=at(day + 7),
            end=at(day + 7) + dt.timedelta(minutes=50),
            count=2,
            modality=appointments_domain.Modality.TELEHEALTH,
            reason_for_visit="Follow-up",
        ),
    )
    primary = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code="F32.1", is_primary=True), actor=clinician
    )
    past = diagnoses_services.diagnosis_record(
        diagnosis=diagnoses_domain.Diagnosis(patient_id=patient.id, code="F41.1"), actor=clinician
    )
    diagnoses_services.diagnosis_resolve(diagnosis_id=past.id, actor=clinician)
    notes = notes_as(clinician)

    def note(kind=notes_domain.NoteKind.PROGRESS_NOTE):
        return notes_domain.ClinicalNote(
            patient_id=patient.id,
            author=notes_models.staff_of(clinician),
            kind=kind,
            format=notes_domain.NoteFormat.FREE_TEXT,
            date_of_service=timezone.localdate(),
            sections=notes_domain.Sections(body="Slept badly; plan reviewed."),
            diagnoses=addressing(primary) if kind == notes_domain.NoteKind.PROGRESS_NOTE else (),
        )

    signed = notes.sign(notes.add(note()).id)
    notes.add_addendum(signed.id, text="Dose was 50 mg.", reason="Typo")
    private = notes.sign(notes.add(note(notes_domain.NoteKind.PSYCHOTHERAPY_NOTE)).id)
    notes_services.authorization_grant(
        note_id=private.id,
        grantee=staff,
        reason="Court order",
        expires_at=timezone.now() + dt.timedelta(days=30),
        actor=clinician,
    )
    notes.delete(notes.add(note()).id)  # a discarded draft: only its history rows are left
    orders = medications_repository.DjangoMedicationOrderRepository(actor=clinician)
    first = orders.add(
        an_order(patient_id=patient.id, prescriber=None, start_date=timezone.localdate() - dt.timedelta(days=20))
    )
    orders.revise(dataclasses.replace(first, dose_amount=Decimal("100")))
    medications_repository.DjangoAllergyRepository(actor=staff).add(
        medications_domain.Allergy(patient_id=patient.id, substance="penicillin", reaction="hives"),
    )
    services.emergency_access_grant(
        patient_id=patient.id, reason="Crisis call while their clinician was away", actor=staff
    )
    assign_care(patient, clinician, by=staff)
    assessment_builders.record(clinician, patient.id, item9=1)  # a questionnaire and its risk-answer alert
    plan = plan_factories.revised_and_signed(clinician, plan_factories.signed(clinician, patient))
    plans_services.objective_progress_record(
        objective_id=plan.goals[0].objectives[0].id,
        note_id=signed.id,
        status=plans_domain.ObjectiveStatus.IN_PROGRESS,
        actor=clinician,
    )
    draft = plans_services.plan_revise(plan_id=plan.id, actor=clinician)
    extra = plans_domain.Goal(number=2, text="Sleep", objectives=(plans_domain.Objective(text="7 hours"),))
    draft = plans_services.plan_update(plan=dataclasses.replace(draft, goals=(*draft.goals, extra)), actor=clinician)
    plans_services.plan_update(plan=dataclasses.replace(draft, goals=draft.goals[:1]), actor=clinician)
    return patient


def set_status(patient, status, staff):
    patients_repository.DjangoPatientRepository(actor=staff).set_status(patient.id, status)


def age(patient, years=YEARS_AGO):
    """Move every plaintext date and time of the patient's live rows `years` back, as if they were that old.

    Every record is moved by the same span, so no two appointments that did not overlap start to.
    """
    shift = dt.timedelta(days=366 * years)
    for part in (retention.PATIENT, *retention.PARTS):
        model = part.model
        fields = [
            field
            for field in model._meta.concrete_fields
            if isinstance(field, db_models.DateField) and not encryption.is_encrypted(field)
        ]
        for row in retention.live_rows(part, patient.id).values("pk", *(field.attname for field in fields)):
            changed = [(field, row[field.attname] - shift) for field in fields if row[field.attname] is not None]
            assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field, _ in changed)
            values = [field.get_db_prep_value(value, connection) for field, value in changed]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE id = %s",
                    [*values, model._meta.pk.get_db_prep_value(row["pk"], connection)],
                )


def expired(staff, clinician, *, status=patients_domain.PatientStatus.INACTIVE, **details):
    """Return a patient with a full record, no longer seen, and all of it older than the period."""
    patient = build_record(register(staff, **details), staff=staff, clinician=clinician)
    set_status(patient, status, staff)
    age(patient)
    return patient


def footprint(patient_id) -> dict[str, int]:
    """Return how many live and history rows of each table hold the patient's record."""
    counts = {}
    for part in (retention.PATIENT, *retention.PARTS):
        counts[part.label] = retention.live_rows(part, patient_id).count()
        counts[f"{part.label} history"] = retention.history_rows(part, patient_id).count()
    return counts


def every_row_naming(patient_id, note_ids) -> int:
    """Count, independently of the purge's own queries, the rows anywhere that name the patient or their notes."""
    total = patients_models.Patient._base_manager.filter(pk=patient_id).count()
    total += patients_models.Patient.history.model._base_manager.filter(id=patient_id).count()
    for part in retention.PARTS:
        for table in (part.model, part.model.history.model):
            names = {field.name for field in table._meta.fields}
            if "patient" in names:
                total += table._base_manager.filter(patient_id=patient_id).count()
            if "note" in names:
                total += table._base_manager.filter(note_id__in=note_ids).count()
    return total


def pk_value(value):
    """Return a UUID key as the database stores it (text on SQLite, uuid on PostgreSQL)."""
    return patients_models.Patient._meta.pk.get_db_prep_value(value, connection)


def note_ids_of(patient_id) -> set:
    return set(
        notes_models.ClinicalNote.history.model._base_manager.filter(patient_id=patient_id).values_list("id", flat=True)
    )


# --- what is purged ------------------------------------------------------------------------------


def test_an_expired_record_is_purged_from_every_live_and_history_table(staff, drlee):
    gone = expired(staff, drlee)
    kept = build_record(register(staff), staff=staff, clinician=drlee)
    before = footprint(gone.id)
    assert all(before.values()), before  # the record really has rows in every part, live and history
    note_ids = note_ids_of(gone.id)
    assert len(note_ids) == 3  # the signed note, the psychotherapy note, the discarded draft
    kept_before = footprint(kept.id)

    out, _ = run("--actor", "alice")

    assert (
        f"purged {gone.mrn}: patient 1, appointments 4, appointment series 1, diagnoses 2, clinical notes 2, "
        f"addenda 1, note authorizations 1, addressed diagnoses 1, medication orders 2, allergies 1, "
        f"risk answer alerts 1, questionnaire responses 1, objective progress entries 1, plan objectives 6, plan goals 3, plan interventions 3, "
        f"diagnoses addressed by plans 3, treatment plans 3, "
        f"emergency access grants 1, care assignments 1; " in out
    )
    assert every_row_naming(gone.id, note_ids) == 0
    assert set(footprint(gone.id).values()) == {0}
    assert footprint(kept.id) == kept_before
    assert "Purged 1 record(s)" in out


def test_the_blind_indexes_of_the_start_of_the_name_go_with_the_record(staff, drlee):
    gone = expired(staff, drlee)
    kept = register(staff)
    prefixes = patients_models.NamePrefixIndex.objects
    assert prefixes.filter(patient_id=gone.id).exists()
    kept_before = prefixes.filter(patient_id=kept.id).count()
    run("--actor", "alice")
    assert not prefixes.filter(patient_id=gone.id).exists()
    assert prefixes.filter(patient_id=kept.id).count() == kept_before


def test_a_deceased_patient_is_purged_like_an_inactive_one(staff, drlee):
    gone = expired(staff, drlee, status=patients_domain.PatientStatus.DECEASED)
    run("--actor", "alice")
    assert not patients_models.Patient.objects.filter(pk=gone.id).exists()


def test_each_purge_leaves_a_tombstone_naming_the_actor_the_mrn_and_the_counts_and_the_chain_verifies(
    staff, drlee, other_staff
):
    access.record(user=staff, action="view", category="demographics", detail="before the purge")
    gone = expired(staff, drlee)
    counted = retention.count_record(gone.id)
    run("--actor", other_staff.username)
    tombstone = AccessLogEntry.objects.get(action="purge")
    assert (tombstone.user, tombstone.patient_id, tombstone.patient_mrn) == (other_staff, gone.id, gone.mrn)
    assert tombstone.category == "patient_record"
    counts = f"{sum(counted.rows.values())} rows and {counted.history} history rows"
    assert tombstone.detail.startswith(f"retention 10 years; deleted {counts}: patient 1, appointments 4,")
    # Each kind of record, a record's parts folded into it, as far as the log's 255 characters hold them.
    # A full record names more kinds than fit: the ones that do, in order, then "…".
    kinds = counted.kinds()
    assert "clinical notes 2 (+3 parts)" in kinds and "treatment plans 3 (+16 parts)" in kinds
    shown = tombstone.detail.split(": ", 1)[1].removesuffix(", …").split(", ")
    assert shown == kinds[: len(shown)] and len(shown) >= 5
    assert len(tombstone.detail) <= 255 and "Purgelast" not in tombstone.detail
    assert access.verify().ok
    # The purged history rows left erasure receipts: every history table's chain is still whole.
    assert HistoryErasure.objects.filter(detail=f"retention purge of patient {gone.id}").count() > 0
    assert {chain.name: chain.verify().problems for chain in chains.all_chains()} == {
        chain.name: [] for chain in chains.all_chains()
    }
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    assert "entries verified" in out.getvalue()


def test_a_purge_whose_tombstone_cannot_be_written_deletes_nothing(staff, drlee, monkeypatch):
    from django.db import OperationalError

    gone = expired(staff, drlee)
    before = retention.count_record(gone.id)
    assert before.rows["patient"] == 1 and before.history

    def broken(**kwargs):
        raise OperationalError("the access log is unavailable")

    monkeypatch.setattr(retention.access, "record", broken)
    with pytest.raises(CommandError, match="1 record\\(s\\) could not be purged"):
        run("--actor", "alice")
    assert retention.count_record(gone.id) == before
    assert not AccessLogEntry.objects.filter(action="purge").exists()


def test_a_purge_leaves_no_record_and_exactly_one_tombstone(staff, drlee):
    gone = expired(staff, drlee)
    run("--actor", "alice")
    assert sum(retention.count_record(gone.id).rows.values()) == retention.count_record(gone.id).history == 0
    assert AccessLogEntry.objects.filter(action="purge", patient_id=gone.id).count() == 1


def test_the_access_log_about_a_purged_patient_is_kept(staff, drlee):
    gone = expired(staff, drlee)
    access.record(
        user=staff, action="view", category="demographics", patient=patients_models.Patient.objects.get(pk=gone.id)
    )
    about = AccessLogEntry.objects.filter(patient_id=gone.id).order_by("sequence")
    before = list(about.values_list("sequence", "action"))
    assert ("view" in dict(before).values()) and len(before) > 1  # signing, authorizing, viewing…
    run("--actor", "alice")
    after = list(about.values_list("sequence", "action"))
    assert after[:-1] == before and after[-1][1] == "purge"


# --- what is kept --------------------------------------------------------------------------------


def test_active_young_and_held_records_are_kept_and_only_the_expired_one_goes(staff, drlee):
    active = build_record(register(staff), staff=staff, clinician=drlee)
    age(active)
    young = build_record(register(staff), staff=staff, clinician=drlee)
    set_status(young, patients_domain.PatientStatus.INACTIVE, staff)
    held = expired(staff, drlee)
    services.patient_legal_hold_place(patient_id=held.id, reason="Litigation hold, matter 2026-14", actor=staff)
    age(held)  # placing the hold is a change too: make the whole record old again
    gone = expired(staff, drlee)
    kept = {patient.id: footprint(patient.id) for patient in (active, young, held)}

    out, _ = run("--actor", "alice")

    assert {patient.id: footprint(patient.id) for patient in (active, young, held)} == kept
    assert not patients_models.Patient.objects.filter(pk=gone.id).exists()
    assert f"Kept under a legal hold: {held.mrn}." in out
    assert active.mrn not in out and young.mrn not in out  # never candidates


def test_one_recent_row_anywhere_in_the_record_keeps_all_of_it(staff, drlee):
    recent = expired(staff, drlee)
    # A medication order stopped eight years ago: inside the period, though all else is older.
    order = medications_repository.DjangoMedicationOrderRepository(actor=drlee).active_for_patient(recent.id)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE medications_medicationorder SET end_date = %s WHERE id = %s",
            [timezone.localdate() - dt.timedelta(days=365 * 8), pk_value(order.id)],
        )
    before = footprint(recent.id)
    out, _ = run("--actor", "alice")
    assert footprint(recent.id) == before
    assert "Kept 1 record(s) with activity inside the retention period." in out


def test_a_record_of_a_patient_seen_as_a_child_is_kept_until_the_period_after_their_18th_birthday(staff, drlee):
    today = timezone.localdate()
    child = expired(staff, drlee, born=retention.years_after(today, -20))  # seen at 8, 18 two years ago
    adult = expired(staff, drlee)
    run("--actor", "alice")
    assert patients_models.Patient.objects.filter(pk=child.id).exists()
    assert not patients_models.Patient.objects.filter(pk=adult.id).exists()
    review = retention.review(retention.find_patient(child.mrn), retention.Policy.from_settings())
    eighteen = retention.years_after(child.date_of_birth, 18)
    due_in = (retention.years_after(eighteen, 10) + dt.timedelta(days=1)).year
    assert not review.decision.due and f"due in {due_in})" in review.decision.reason


def test_a_hold_placed_after_the_review_still_stops_the_purge(staff, drlee):
    patient = expired(staff, drlee)
    policy = retention.Policy.from_settings()
    [candidate] = list(retention.candidates(policy))
    assert retention.review(candidate, policy).decision.due
    services.patient_legal_hold_place(patient_id=patient.id, reason="Records request from counsel", actor=staff)
    before = footprint(patient.id)
    with pytest.raises(retention.NotDue, match="legal hold"), owner_rights():
        retention.purge_patient(patient_id=patient.id, policy=policy, actor=staff)
    assert footprint(patient.id) == before
    assert not AccessLogEntry.objects.filter(action="purge").exists()


def test_a_row_elsewhere_that_refers_to_the_record_stops_that_purge_only(staff, drlee):
    tangled = expired(staff, drlee)
    other = build_record(register(staff), staff=staff, clinician=drlee)
    gone = expired(staff, drlee)
    # Corrupt data no application path can make: another patient's order claims to revise this one's.
    target = medications_repository.DjangoMedicationOrderRepository(actor=drlee).active_for_patient(tangled.id)[0]
    source = medications_repository.DjangoMedicationOrderRepository(actor=drlee).active_for_patient(other.id)[0]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE medications_medicationorder SET replaces_id = %s WHERE id = %s",
            [pk_value(target.id), pk_value(source.id)],
        )
    before = footprint(tangled.id)
    err = io.StringIO()
    with pytest.raises(CommandError, match=r"1 record\(s\) could not be purged"), owner_rights():
        call_command("purge_expired", "--actor", "alice", stdout=io.StringIO(), stderr=err)
    assert f"not purged {tangled.mrn}: rows elsewhere still refer to this record" in err.getvalue()
    assert footprint(tangled.id) == before
    assert not patients_models.Patient.objects.filter(pk=gone.id).exists()
    assert list(AccessLogEntry.objects.filter(action="purge").values_list("patient_mrn", flat=True)) == [gone.mrn]


# --- dry run and named patients ------------------------------------------------------------------


def all_rows() -> dict[str, int]:
    from django.apps import apps

    return {model._meta.label: model._base_manager.count() for model in apps.get_models()}


def test_a_dry_run_lists_the_due_records_by_mrn_with_counts_and_writes_nothing(staff, drlee):
    due = expired(staff, drlee)
    held = expired(staff, drlee)
    services.patient_legal_hold_place(patient_id=held.id, reason="Subpoena", actor=staff)
    age(held)
    before = all_rows()
    out, _ = run("--actor", "alice", "--dry-run")
    assert all_rows() == before
    assert (
        f"would purge {due.mrn}: patient 1, appointments 4, appointment series 1, diagnoses 2, clinical notes 2, "
        in out
    )
    assert f"Kept under a legal hold: {held.mrn}." in out
    assert "Dry run: would purge 1 record(s)" in out and "nothing was written" in out
    assert "Purgelast" not in out and "Purgefirst" not in out


def test_named_patients_are_purged_and_others_left(staff, drlee):
    named, unnamed = expired(staff, drlee), expired(staff, drlee)
    run("--actor", "alice", "--patient", named.mrn.lower())
    assert not patients_models.Patient.objects.filter(pk=named.id).exists()
    assert patients_models.Patient.objects.filter(pk=unnamed.id).exists()


def test_a_named_record_that_is_young_active_or_held_is_refused_and_nothing_is_purged(staff, drlee):
    due = expired(staff, drlee)
    young = register(staff, status=patients_domain.PatientStatus.INACTIVE)
    active = register(staff)
    held = expired(staff, drlee)
    services.patient_legal_hold_place(patient_id=held.id, reason="Audit by the state board", actor=staff)
    age(held)
    with pytest.raises(CommandError) as refused:
        run(
            "--actor",
            "alice",
            "--patient",
            due.mrn,
            "--patient",
            young.mrn,
            "--patient",
            active.mrn,
            "--patient",
            held.mrn,
            "--patient",
            "NM00000000",
        )
    message = str(refused.value)
    assert message.startswith("--patient: nothing was purged.")
    due_in = (retention.years_after(timezone.localdate(), 10) + dt.timedelta(days=1)).year
    assert f"{young.mrn}: younger than the retention period of 10 years (due in {due_in})" in message
    assert f"{active.mrn}: the patient is active" in message
    assert f"{held.mrn}: the record is under a legal hold" in message
    assert "NM00000000: no patient has this MRN" in message
    assert patients_models.Patient.objects.filter(pk=due.id).exists()
    assert not AccessLogEntry.objects.filter(action="purge").exists()


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("years", [0, 5])
def test_a_period_under_six_years_is_refused_by_the_command_and_at_start_up(staff, drlee, years):
    patient = expired(staff, drlee)
    with override_settings(NOVAMIND_RETENTION_YEARS=years):
        with pytest.raises(
            CommandError, match=f"NOVAMIND_RETENTION_YEARS is {years}: HIPAA requires keeping records at least 6 years"
        ):
            run("--actor", "alice")
        assert [message.id for message in checks.check_retention_period()] == ["novamind.E040"]
    assert patients_models.Patient.objects.filter(pk=patient.id).exists()


def test_six_years_is_accepted_and_a_longer_period_keeps_more(staff, drlee):
    patient = expired(staff, drlee)
    with override_settings(NOVAMIND_RETENTION_YEARS=6):
        assert checks.check_retention_period() == []
    with override_settings(NOVAMIND_RETENTION_YEARS=15):
        out, _ = run("--actor", "alice")
        assert "Retention period 15 years" in out
    assert patients_models.Patient.objects.filter(pk=patient.id).exists()


def test_an_unknown_actor_is_refused(staff, drlee):
    patient = expired(staff, drlee)
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        run("--actor", "nobody")
    assert patients_models.Patient.objects.filter(pk=patient.id).exists()


def test_an_actor_without_the_delete_permission_is_refused(staff, drlee):
    patient = expired(staff, drlee)
    make_staff("frontdesk", permissions=("appointments",))
    with pytest.raises(CommandError, match="'frontdesk' may not do this: their roles lack patients.purge_patient"):
        run("--actor", "frontdesk")
    with pytest.raises(retention.PurgeNotAllowed):
        retention.purge_patient(
            patient_id=patient.id,
            policy=retention.Policy.from_settings(),
            actor=make_staff("clerk", permissions=("appointments",)),
        )
    assert patients_models.Patient.objects.filter(pk=patient.id).exists()


def test_a_table_the_purge_does_not_know_stops_every_purge(staff, drlee, monkeypatch):
    patient = expired(staff, drlee)
    assert retention.uncovered_references() == []
    monkeypatch.setattr(
        retention, "_BY_LABEL", {k: v for k, v in retention._BY_LABEL.items() if k != "medications.Allergy"}
    )
    with pytest.raises(CommandError, match="medications.Allergy.patient refers to patients.Patient"):
        run("--actor", "alice")
    assert patients_models.Patient.objects.filter(pk=patient.id).exists()


# --- the rule, without the database ---------------------------------------------------------------


def facts(last_activity, *, status="inactive", hold=False, born=dt.date(1970, 1, 1)):
    return retention.RecordFacts(status=status, legal_hold=hold, last_activity=last_activity, date_of_birth=born)


def test_a_record_is_due_the_day_after_its_period_ends():
    policy = retention.Policy(years=10, today=dt.date(2026, 6, 15))
    assert not retention.decide(facts(dt.date(2016, 6, 15)), policy).due
    assert retention.decide(facts(dt.date(2016, 6, 14)), policy).due
    assert policy.cutoff == dt.date(2016, 6, 15)


def test_the_29th_of_february_counts_to_the_1st_of_march():
    assert retention.years_after(dt.date(2016, 2, 29), 10) == dt.date(2026, 3, 1)
    assert not retention.decide(facts(dt.date(2016, 2, 29)), retention.Policy(years=10, today=dt.date(2026, 3, 1))).due
    assert retention.decide(facts(dt.date(2016, 2, 29)), retention.Policy(years=10, today=dt.date(2026, 3, 2))).due


def test_the_policy_refuses_a_period_under_the_hipaa_floor():
    with pytest.raises(RuleViolation):
        retention.Policy(years=5, today=dt.date(2026, 1, 1))
    assert retention.period_problem("10") is not None and retention.period_problem(6) is None


def test_a_tombstone_that_would_be_too_long_keeps_the_totals_and_as_many_parts_as_fit():
    counts = retention.Counts(rows={f"part number {n}": n + 1 for n in range(40)}, history=99)
    detail = counts.summary("retention 10 years; deleted ", limit=255)
    assert len(detail) <= 255 and detail.endswith(", …")
    assert detail.startswith("retention 10 years; deleted 820 rows and 99 history rows: part number 0 1, ")
    empty = retention.Counts(rows={"patient": 1, "allergies": 0}, history=3).summary("x ", limit=255)
    assert empty == "x 1 row and 3 history rows: patient 1"
