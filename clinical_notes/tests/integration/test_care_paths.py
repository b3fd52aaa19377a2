"""Issue 14, clinical notes: every path to a note asks the one policy (role and care).

Clinicians here hold the Clinician role (a care role), so they see only the patients whose care
team they are on; `treated` is on drpatel's care list, `stranger` is not.
"""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from clinical_notes import domain, models, repository, services
from clinical_notes.tests.factories import new_note, soap
from conftest import assign_care
from novamind import roles
from novamind.domain import AccessDenied, RuleViolation
from novamind.tests.integration.role_users import member
from patients import domain as patients_domain
from patients import repository as patients_repository

pytestmark = pytest.mark.django_db

CLINICIAN_PROFILE = {"is_clinician": True}


def register(name, by):
    return patients_repository.DjangoPatientRepository(actor=by).add(
        patients_domain.Patient(legal_first_name=name, legal_last_name="Doe", date_of_birth=dt.date(1980, 1, 2))
    )


@pytest.fixture
def clinic():
    """Two clinicians in the Clinician role, a supervisor, a front desk and two patients."""
    frontdesk = member("frontdesk", roles.FRONT_DESK)
    doctor = member("drpatel", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    colleague = member("msmith", roles.CLINICIAN, profile=CLINICIAN_PROFILE)
    supervisor = member(
        "drlee", roles.CLINICIAN, roles.SUPERVISOR, profile={"is_clinician": True, "is_supervisor": True}
    )
    treated = register("Robin", frontdesk)
    stranger = register("Sam", frontdesk)
    assign_care(treated, doctor, by=frontdesk)
    assign_care(stranger, colleague, by=frontdesk)

    class Clinic:
        pass

    clinic = Clinic()
    clinic.__dict__.update(
        frontdesk=frontdesk,
        doctor=doctor,
        colleague=colleague,
        supervisor=supervisor,
        treated=treated,
        stranger=stranger,
    )
    return clinic


def colleagues_signed_note(clinic, **options):
    note = services.note_create(note=new_note(clinic.colleague, clinic.stranger, **options), actor=clinic.colleague)
    return services.note_sign(note_id=note.id, actor=clinic.colleague)


def add_form(patient, **overrides):
    data = {
        "patient": str(patient.id),
        "kind": "progress_note",
        "format": "soap",
        "date_of_service": timezone.localdate().isoformat(),
        "subjective": "Reports better sleep.",
        "objective": "Calm.",
        "data": "",
        "assessment": "Improving.",
        "plan": "Weekly sessions.",
        "body": "",
        "version": "1",
    }
    data.update(overrides)
    return data


def run(*args, stdin=None):
    out, err = io.StringIO(), io.StringIO()
    options = {"stdin": stdin} if stdin is not None else {}
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- 1. writing a note for a patient outside one's care ------------------------------------------


def test_a_clinician_cannot_save_a_note_about_a_patient_outside_their_care(client, clinic):
    client.force_login(clinic.doctor)
    response = client.post(reverse("admin:clinical_notes_clinicalnote_add"), add_form(clinic.stranger))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["patient"]
    assert not models.ClinicalNote.objects.exists()


def test_a_clinician_still_drafts_a_note_about_a_patient_in_their_care(client, clinic):
    client.force_login(clinic.doctor)
    response = client.post(reverse("admin:clinical_notes_clinicalnote_add"), add_form(clinic.treated))
    assert response.status_code == 302
    assert models.ClinicalNote.objects.get().patient_id == clinic.treated.id


def test_the_note_add_form_offers_only_the_patients_the_user_may_see(client, clinic):
    client.force_login(clinic.doctor)
    form = client.get(reverse("admin:clinical_notes_clinicalnote_add")).context["adminform"].form
    assert set(form.fields["patient"].queryset.values_list("pk", flat=True)) == {clinic.treated.id}
    answer = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "clinical_notes", "model_name": "clinicalnote", "field_name": "patient", "term": ""},
    )
    ids = {row["id"] for row in json.loads(answer.content)["results"]}
    assert ids == {str(clinic.treated.id)}


def test_the_note_service_refuses_a_patient_outside_the_actors_care(clinic):
    with pytest.raises(AccessDenied):
        services.note_create(note=new_note(clinic.doctor, clinic.stranger), actor=clinic.doctor)
    assert not models.ClinicalNote.objects.exists()


def test_the_note_service_refuses_an_actor_without_the_role_to_write_notes(clinic):
    with pytest.raises(AccessDenied):
        services.note_create(note=new_note(clinic.frontdesk, clinic.treated), actor=clinic.frontdesk)
    assert not models.ClinicalNote.objects.exists()


# --- 2. the repository is persistence only ---------------------------------------------------


def test_the_repository_does_not_import_the_services():
    assert "services" not in vars(repository)


# --- 3. workflow URLs outside one's care ----------------------------------------------------------


@pytest.mark.parametrize(
    "tool", ["addendum", "request_cosignature", "withdraw_cosignature", "cosign", "discard", "authorize"]
)
def test_a_workflow_page_of_a_note_outside_ones_care_is_not_found(client, clinic, tool):
    note = colleagues_signed_note(clinic)
    # Co-signing needs the co-sign permission first (a clinician without it gets 403 anywhere):
    # the supervisor has it, and is not on this patient's care team either.
    client.force_login(clinic.supervisor if tool == "cosign" else clinic.doctor)
    url = reverse(f"admin:clinical_notes_clinicalnote_{tool}", args=[note.id])
    assert client.get(url).status_code == 404
    assert client.post(url, {"text": "Late information.", "reason": "Correction."}).status_code == 404
    assert not models.Addendum.objects.exists()


def test_the_addendum_service_refuses_a_note_outside_the_actors_care(clinic):
    note = colleagues_signed_note(clinic)
    with pytest.raises(AccessDenied):
        services.addendum_add(note_id=note.id, text="More.", reason="Late information.", actor=clinic.doctor)
    assert not models.Addendum.objects.exists()


def test_a_supervisor_outside_the_patients_care_co_signs_only_the_note_they_were_asked_to(clinic):
    # Issue 17: the author's request is an explicit delegation of that one note (it used to be
    # refused unless the supervisor was on the care team). See test_cosignature.py for the rest.
    note = colleagues_signed_note(clinic)
    other = colleagues_signed_note(clinic)
    services.cosignature_request(note_id=note.id, supervisor_id=clinic.supervisor.pk, actor=clinic.colleague)
    assert services.note_cosign(note_id=note.id, actor=clinic.supervisor).cosigned_by.id == clinic.supervisor.pk
    with pytest.raises(AccessDenied):
        services.note_read(note_id=other.id, actor=clinic.supervisor)


def test_a_supervisor_on_the_care_team_co_signs_the_note_they_were_asked_to(clinic):
    assign_care(clinic.stranger, clinic.supervisor, by=clinic.frontdesk)
    note = colleagues_signed_note(clinic)
    services.cosignature_request(note_id=note.id, supervisor_id=clinic.supervisor.pk, actor=clinic.colleague)
    cosigned = services.note_cosign(note_id=note.id, actor=clinic.supervisor)
    assert cosigned.cosigned_by.id == clinic.supervisor.pk


def test_the_co_sign_page_is_forbidden_to_a_clinician_without_the_supervisor_role(client, clinic):
    note = colleagues_signed_note(clinic)
    client.force_login(clinic.colleague)  # the author, in care, but no co-sign permission
    url = reverse("admin:clinical_notes_clinicalnote_cosign", args=[note.id])
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403
    assert models.ClinicalNote.objects.get(pk=note.id).cosigned_by_id is None


# --- 4. commands with --actor ----------------------------------------------------------------------


def test_sign_note_refuses_an_actor_outside_the_patients_care(clinic):
    note = services.note_create(note=new_note(clinic.colleague, clinic.stranger), actor=clinic.colleague)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("sign_note", "--actor", clinic.doctor.username, str(note.id), stdout=out, stderr=err)
    assert "care team" in err.getvalue()
    assert models.ClinicalNote.objects.get(pk=note.id).status == "draft"


def test_edit_note_refuses_an_actor_outside_the_patients_care(clinic, tmp_path):
    note = services.note_create(note=new_note(clinic.colleague, clinic.stranger), actor=clinic.colleague)
    text = tmp_path / "plan.txt"
    text.write_text("Changed by a stranger.")
    with pytest.raises(CommandError) as refused:
        run("edit_note", "--actor", clinic.doctor.username, str(note.id), "--section", "plan", "--text-file", str(text))
    assert "care team" in str(refused.value)
    assert models.ClinicalNote.objects.get(pk=note.id).plan == soap().plan


def test_add_addendum_refuses_an_actor_outside_the_patients_care(clinic, tmp_path):
    note = colleagues_signed_note(clinic)
    text, reason = tmp_path / "text.txt", tmp_path / "reason.txt"
    text.write_text("More.")
    reason.write_text("Late information.")
    with pytest.raises(CommandError) as refused:
        run(
            "add_addendum",
            "--actor",
            clinic.doctor.username,
            str(note.id),
            "--text-file",
            str(text),
            "--reason-file",
            str(reason),
        )
    assert "care team" in str(refused.value)
    assert not models.Addendum.objects.exists()


def test_verify_notes_refuses_an_actor_without_the_view_permission_or_the_auditor_role(clinic):
    colleagues_signed_note(clinic)
    office = member("office", roles.PRACTICE_ADMIN)
    with pytest.raises(CommandError) as refused:
        run("verify_notes", "--actor", office.username)
    assert "verify_notes" in str(refused.value) or "permission" in str(refused.value)


def test_verify_notes_runs_for_an_auditor(clinic):
    colleagues_signed_note(clinic)
    auditor = member("auditor", roles.AUDITOR)
    out, _ = run("verify_notes", "--actor", auditor.username)
    assert "All 1 signed notes" in out


# --- 5. date bounds and 500s -----------------------------------------------------------------------


def test_a_date_of_service_before_1900_is_refused_next_to_the_field():
    note = domain.ClinicalNote(
        patient_id=None,
        author=domain.Staff(id=1, username="drpatel", is_clinician=True),
        kind=domain.NoteKind.PROGRESS_NOTE,
        format=domain.NoteFormat.SOAP,
        date_of_service=dt.date(1899, 12, 31),
        sections=soap(),
    )
    with pytest.raises(RuleViolation) as refused:
        note.validated(today=dt.date(2026, 1, 1))
    assert refused.value.errors["date_of_service"] == ["Enter a date no earlier than 1 January 1900."]


def test_a_date_of_service_in_year_one_on_the_add_form_is_a_field_error_not_a_500(client, clinic):
    client.force_login(clinic.doctor)
    response = client.post(
        reverse("admin:clinical_notes_clinicalnote_add"), add_form(clinic.treated, date_of_service="0001-01-01")
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["date_of_service"]
    assert not models.ClinicalNote.objects.exists()


def test_a_date_of_service_in_the_future_is_refused_by_the_service(clinic):
    note = new_note(clinic.doctor, clinic.treated)
    future = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(RuleViolation) as refused:
        services.note_create(note=note.__class__(**{**note.__dict__, "date_of_service": future}), actor=clinic.doctor)
    assert "date_of_service" in refused.value.errors


def test_a_garbage_patient_in_the_add_page_query_answers_400_not_500(client, clinic):
    client.force_login(clinic.doctor)
    assert client.get(reverse("admin:clinical_notes_clinicalnote_add") + "?patient=abc").status_code == 400


def test_verify_notes_run_by_a_clinician_checks_only_the_notes_of_their_patients(clinic):
    colleagues_signed_note(clinic)
    out, _ = run("verify_notes", "--actor", clinic.doctor.username)
    assert "All 0 signed notes" in out


def test_a_garbage_selected_id_in_a_note_action_answers_400_not_500(client, clinic):
    client.force_login(clinic.doctor)
    response = client.post(
        reverse("admin:clinical_notes_clinicalnote_changelist"),
        {"action": "sign_selected", "_selected_action": ["abc"]},
    )
    assert response.status_code == 400
