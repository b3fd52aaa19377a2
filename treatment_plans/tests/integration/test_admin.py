"""The plan pages of the admin: a draft written on one form, signed, revised; the workflow pages; the care rule."""

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from clinical_notes.tests import factories as notes_factories
from novamind import roles
from novamind.models import AccessLogEntry
from novamind.tests.integration.role_users import member
from treatment_plans import domain, models, services
from treatment_plans.tests import factories

pytestmark = pytest.mark.django_db

TARGET = (timezone.localdate() + dt.timedelta(days=45)).isoformat()


def url(name, *args):
    return reverse(f"admin:treatment_plans_treatmentplan_{name}", args=args)


def rows(prefix, *forms, initial=0):
    """Return the POST data of an inline section: its management form and its rows."""
    data = {f"{prefix}-TOTAL_FORMS": str(len(forms)), f"{prefix}-INITIAL_FORMS": str(initial)}
    for index, fields in enumerate(forms):
        data.update({f"{prefix}-{index}-{name}": value for name, value in fields.items()})
    return data


def new_plan_form(patient, diagnosis, clinician, **changes) -> dict:
    """Return the add page's POST data of a complete plan: one goal, two objectives, one intervention."""
    return {
        "patient": str(patient.id),
        "problems": "I can't get out of bed.",
        "diagnoses_addressed": [str(diagnosis.pk)],
        "version": "1",
        **rows("goals", {"number": "1", "text": "Face the day."}),
        **rows(
            "objectives",
            {"goal_number": "1", "text": "Out of bed by 9.", "target_date": TARGET, "status": "not_started"},
            {"goal_number": "1", "text": "PHQ-9 below 10.", "target_date": TARGET, "status": "not_started"},
        ),
        **rows("interventions", {"modality": "Individual CBT", "frequency": "Weekly", "clinician": str(clinician.pk)}),
        **changes,
    }


def messages_of(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def test_a_whole_plan_is_written_on_one_form_and_signed_with_save_and_sign(client, clinician, patient):
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    client.force_login(clinician)
    page = client.get(url("add") + f"?patient={patient.id}")
    assert (
        page.status_code == 200 and "F32.1 Major depressive disorder, single episode, moderate" in page.content.decode()
    )

    response = client.post(url("add"), {**new_plan_form(patient, diagnosis, clinician), "_sign": "Save and sign"})

    assert response.status_code == 302
    plan = models.TreatmentPlan.objects.get()
    assert plan.status == models.SIGNED and plan.signed_by == clinician
    assert [(o.goal_number, o.number, o.text) for o in plan.objectives.all()] == [
        (1, 1, "Out of bed by 9."),
        (1, 2, "PHQ-9 below 10."),
    ]
    assert "Version 1 is signed and is the current plan" in " ".join(messages_of(response))
    entry = LogEntry.objects.get()
    assert entry.object_repr == str(plan) and "bed" not in entry.change_message


def test_the_plans_errors_are_shown_next_to_their_rows_and_nothing_is_saved(client, clinician, patient):
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    client.force_login(clinician)
    data = new_plan_form(patient, diagnosis, clinician)
    data.update(rows("goals", {"number": "1", "text": "Face the day."}, {"number": "1", "text": "Again."}))
    data["objectives-1-goal_number"] = "3"
    data["objectives-0-target_date"] = "13/45/2026"

    response = client.post(url("add"), data)

    assert response.status_code == 200 and not models.TreatmentPlan.objects.exists()
    goals, objectives = (inline.formset for inline in response.context["inline_admin_formsets"][:2])
    assert "Please correct the duplicate data for number" in " ".join(goals.non_form_errors())
    assert objectives.forms[0].errors["target_date"] == ["Enter a valid date."]
    assert objectives.forms[1].errors["goal_number"] == ["There is no goal 3 in this plan: write the goal first."]


def test_save_and_sign_keeps_an_incomplete_draft_and_says_what_it_lacks(client, clinician, patient):
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    client.force_login(clinician)
    data = {**new_plan_form(patient, diagnosis, clinician), **rows("interventions"), "_sign": "Save and sign"}

    response = client.post(url("add"), data)

    plan = models.TreatmentPlan.objects.get()
    assert plan.status == models.DRAFT and response["Location"] == url("change", plan.pk)
    said = " ".join(messages_of(response))
    assert "The draft is saved, but not signed" in said and "Add at least one intervention" in said


def test_a_draft_is_edited_on_its_page_rows_changed_and_removed(client, clinician, patient):
    draft = factories.drafted(clinician, patient)
    client.force_login(clinician)
    page = client.get(url("change", draft.id))
    assert page.status_code == 200 and 'id="sign-plan"' in page.content.decode()
    objectives = list(models.Objective.objects.filter(plan_id=draft.id).order_by("number"))
    data = {
        "problems": "Worse in the mornings.",
        "diagnoses_addressed": [str(models.PlanDiagnosis.objects.get(plan_id=draft.id).diagnosis_id)],
        "version": str(models.TreatmentPlan.objects.get(pk=draft.id).version),
        **rows(
            "goals",
            {
                "id": str(models.Goal.objects.get(plan_id=draft.id).pk),
                "plan": str(draft.id),
                "number": "1",
                "text": "Face the day.",
            },
            initial=1,
        ),
        **rows(
            "objectives",
            *(
                {
                    "id": str(o.pk),
                    "plan": str(draft.id),
                    "goal_number": "1",
                    "text": o.text,
                    "target_date": o.target_date.isoformat(),
                    "status": o.status,
                    **({"DELETE": "on"} if o.number == 2 else {}),
                }
                for o in objectives
            ),
            initial=2,
        ),
        **rows(
            "interventions",
            {
                "id": str(models.Intervention.objects.get(plan_id=draft.id).pk),
                "plan": str(draft.id),
                "modality": "Group CBT",
                "frequency": "Weekly",
                "clinician": str(clinician.pk),
            },
            initial=1,
        ),
    }

    response = client.post(url("change", draft.id), data)

    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    row = models.TreatmentPlan.objects.get(pk=draft.id)
    assert row.problems == "Worse in the mornings." and row.version == 2
    assert [o.text for o in row.objectives.all()] == [objectives[0].text]
    assert row.interventions.get().modality == "Group CBT"


def test_a_draft_posted_back_unchanged_writes_nothing(client, clinician, patient):
    from medications.tests.pages import form_data

    draft = factories.drafted(clinician, patient)
    client.force_login(clinician)
    data = form_data(client.get(url("change", draft.id)))
    before = (
        models.TreatmentPlan.objects.get(pk=draft.id).version,
        models.TreatmentPlan.history.count(),
        models.Goal.history.count(),
    )

    response = client.post(url("change", draft.id), data)

    assert response.status_code == 302
    after = (
        models.TreatmentPlan.objects.get(pk=draft.id).version,
        models.TreatmentPlan.history.count(),
        models.Goal.history.count(),
    )
    assert after == before and not LogEntry.objects.exists()
    assert "No changes to save" in " ".join(messages_of(response))


def test_a_signed_plans_page_is_read_only_and_shows_the_plan_with_its_progress(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    services.objective_progress_record(
        objective_id=plan.goals[0].objectives[0].id,
        note_id=note.id,
        status=domain.ObjectiveStatus.IN_PROGRESS,
        rating=domain.ProgressRating.SOME,
        comment="Up by 9 twice.",
        actor=clinician,
    )
    client.force_login(clinician)

    body = client.get(url("change", plan.id)).content.decode()

    assert 'name="_save"' not in body and 'id="sign-plan"' not in body
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
    assert "Goal 1: Feel able to face the day." in text and "1.1 Out of bed by 9 on 5 days a week." in text
    assert f"{note.date_of_service.isoformat()} — In progress, some progress — Up by 9 twice." in text
    assert "The content matches the hash taken at signing." in text
    assert 'id="plan-revise"' in body and 'id="plan-progress"' in body and 'id="plan-agreement"' in body
    assert client.post(url("change", plan.id), {"problems": "Rewritten."}).status_code == 403


def test_revising_from_the_plans_page_opens_the_next_version_and_signing_it_supersedes_the_first(
    client, clinician, patient
):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    assert client.get(url("revise", plan.id)).status_code == 200

    response = client.post(
        url("revise", plan.id), {"version": str(models.TreatmentPlan.objects.get(pk=plan.id).version)}
    )

    draft = models.TreatmentPlan.objects.get(status=models.DRAFT)
    assert response["Location"] == url("change", draft.pk) and draft.replaces_id == plan.id
    services.plan_sign(plan_id=draft.pk, actor=clinician)
    body = client.get(url("change", plan.id)).content.decode()
    assert "Superseded by a later version" in body and "superseded by" in body


def test_a_stale_revise_page_is_refused_with_the_reason(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    response = client.post(url("revise", plan.id), {"version": "99"})
    assert response.status_code == 200 and "was changed by someone else" in response.content.decode()
    assert not models.TreatmentPlan.objects.filter(status=models.DRAFT).exists()


def test_discontinuing_asks_a_reason_and_keeps_the_plan(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    version = str(models.TreatmentPlan.objects.get(pk=plan.id).version)
    client.force_login(clinician)
    refused = client.post(
        url("discontinue", plan.id),
        {"discontinue_reason": "other", "discontinued_on": timezone.localdate().isoformat(), "version": version},
    )
    assert refused.status_code == 200 and refused.context["form"].errors["discontinue_note"] == [
        "Describe the reason when it is 'Other'."
    ]

    done = client.post(
        url("discontinue", plan.id),
        {
            "discontinue_reason": "treatment_completed",
            "discontinued_on": timezone.localdate().isoformat(),
            "version": version,
        },
    )

    assert done.status_code == 302
    assert models.TreatmentPlan.objects.get(pk=plan.id).status == models.DISCONTINUED


def test_the_patients_agreement_is_recorded_on_its_page(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    response = client.post(
        url("agreement", plan.id),
        {
            "agreed_on": timezone.localdate().isoformat(),
            "agreement_method": "signed_in_person",
            "agreement_note": "Copy given.",
            "version": str(models.TreatmentPlan.objects.get(pk=plan.id).version),
        },
    )
    assert response.status_code == 302
    row = models.TreatmentPlan.objects.get(pk=plan.id)
    assert (row.agreed_on, row.agreement_method, row.agreement_note) == (
        timezone.localdate(),
        "signed_in_person",
        "Copy given.",
    )
    assert 'id="plan-agreement"' not in client.get(url("change", plan.id)).content.decode()


def test_progress_is_recorded_for_several_objectives_from_one_note_or_for_none(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    intake = notes_factories.signed(clinician, patient, kind=notes_factories.domain.NoteKind.INTAKE_ASSESSMENT)
    client.force_login(clinician)
    page = client.get(url("progress", plan.id) + f"?note={note.id}")
    assert page.status_code == 200 and page.context["form"]["note"].value() == str(note.id)
    assert str(intake.id) not in page.content.decode()  # only progress notes are offered

    nothing = client.post(url("progress", plan.id), {"note": str(note.id)})
    assert nothing.status_code == 200 and "Choose a status for at least one objective." in nothing.content.decode()

    data = {
        "note": str(note.id),
        "status_0": "in_progress",
        "rating_0": "some",
        "comment_0": "Twice.",
        "status_1": "met",
    }
    done = client.post(url("progress", plan.id), data)
    assert done.status_code == 302
    assert sorted(models.ObjectiveProgress.objects.values_list("status", flat=True)) == ["in_progress", "met"]

    again = client.post(url("progress", plan.id), data)
    assert again.status_code == 200 and models.ObjectiveProgress.objects.count() == 2  # all or none
    assert "already recorded from this note" in again.content.decode()


def test_a_notes_progress_link_opens_the_progress_page_of_the_current_plan(client, clinician, patient):
    note = notes_factories.signed(clinician, patient)
    client.force_login(clinician)
    none_yet = client.get(url("progress_for_note", note.id))
    assert none_yet["Location"] == reverse("admin:clinical_notes_clinicalnote_change", args=[note.id])
    plan = factories.signed(clinician, patient)
    response = client.get(url("progress_for_note", note.id))
    assert response["Location"] == url("progress", plan.id) + f"?note={note.id}"


def test_a_signed_progress_notes_page_links_to_recording_progress_and_no_other_note_does(client, clinician, patient):
    def note_page(note):
        return client.get(reverse("admin:clinical_notes_clinicalnote_change", args=[note.id])).content.decode()

    link = "Record progress on the treatment plan"
    signed = notes_factories.signed(clinician, patient)
    intake = notes_factories.signed(clinician, patient, kind=notes_factories.domain.NoteKind.INTAKE_ASSESSMENT)
    draft = notes_factories.drafted(clinician, patient)
    client.force_login(clinician)
    page = note_page(signed)
    assert link in page and url("progress_for_note", signed.id) in page
    assert link not in note_page(intake) and link not in note_page(draft)


def test_a_plans_history_is_shown_and_never_reverted(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    history = client.get(url("history", plan.id))
    assert history.status_code == 200 and "Signed (version 1)" in history.content.decode()
    version = models.TreatmentPlan.history.filter(id=plan.id).order_by("history_id").first().history_id
    page = client.get(url("simple_history", plan.id, version))
    assert page.status_code == 200 and "I can&#x27;t get out of bed." in page.content.decode()
    assert client.post(url("simple_history", plan.id, version), {}).status_code == 403


def test_the_list_names_patients_and_marks_overdue_reviews(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    body = client.get(url("changelist")).content.decode()
    assert "Robin Okafor" in body and plan.review_due.isoformat() in body and "plan-overdue" not in body
    late = factories.drafted(clinician, patient)  # the next version, signed 100 days ago (as the demo's history is)
    services.plan_sign(plan_id=late.id, actor=clinician, now=timezone.now() - dt.timedelta(days=100))
    assert 'class="plan-overdue">overdue' in client.get(url("changelist")).content.decode()


# --- the care rule, on every page ------------------------------------------------------------------


def test_a_clinician_outside_the_patients_care_finds_no_plan_on_any_page(client, clinician, colleague, patient):
    plan = factories.signed(clinician, patient)
    note = notes_factories.signed(clinician, patient)
    version = models.TreatmentPlan.history.filter(id=plan.id).first().history_id
    client.force_login(colleague)
    for page in (
        url("change", plan.id),
        url("history", plan.id),
        url("simple_history", plan.id, version),
        url("revise", plan.id),
        url("discontinue", plan.id),
        url("agreement", plan.id),
        url("progress", plan.id),
        url("progress_for_note", note.id),
    ):
        assert client.get(page).status_code == 404, page
    assert client.post(url("revise", plan.id), {"version": "2"}).status_code == 404
    listing = client.get(url("changelist")).content.decode()
    assert str(plan.id) not in listing and "Okafor" not in listing
    added = client.post(
        url("add"),
        {
            "patient": str(patient.id),
            "problems": "x",
            "version": "1",
            **rows("goals"),
            **rows("objectives"),
            **rows("interventions"),
        },
    )
    assert added.status_code == 200 and "patient" in added.context["adminform"].form.errors
    assert models.TreatmentPlan.objects.count() == 1


def test_roles_without_plans_are_refused_and_the_refusal_is_logged(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    for role in (roles.FRONT_DESK, roles.PRACTICE_ADMIN, roles.AUDITOR):
        user = member(f"user-{role}".replace(" ", "-").lower(), role)
        client.force_login(user)
        for page in (url("changelist"), url("change", plan.id), url("revise", plan.id), url("progress", plan.id)):
            assert client.get(page).status_code == 403, (role, page)
    assert AccessLogEntry.objects.filter(outcome="refused", category="treatment_plans").exists()


def test_reading_a_plan_is_in_the_access_log(client, clinician, patient):
    plan = factories.signed(clinician, patient)
    client.force_login(clinician)
    client.get(url("change", plan.id))
    entry = AccessLogEntry.objects.order_by("-sequence").first()
    assert (entry.action, entry.category, entry.patient_id, entry.object_id) == (
        "view",
        "treatment_plans",
        patient.id,
        str(plan.id),
    )
