"""No plaintext PHI: what a plan says is stored only as ciphertext, in the live tables, their history,
the admin log, the access log and (on PostgreSQL) a pg_dump."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinical_notes.tests import factories as notes_factories
from novamind.tests.phi_scan import assert_no_plaintext
from treatment_plans import domain, models, services
from treatment_plans.tests import factories


def marker(name):
    return f"zqx-{name}-marker"


@pytest.mark.django_db(transaction=True)
def test_no_plan_text_is_stored_in_plaintext_anywhere(client, clinician, patient):
    markers = []

    # Through the services: a plan with every text filled, signed, revised, agreed, with progress.
    diagnosis = factories.a_diagnosis(patient, actor=clinician)
    target = timezone.localdate() + dt.timedelta(days=30)
    texts = {name: marker(f"repo-{name}") for name in ("problems", "goal", "objective", "modality", "frequency")}
    markers.extend(texts.values())
    plan = services.plan_create(
        plan=domain.TreatmentPlan(
            patient_id=patient.id,
            problems=texts["problems"],
            diagnoses=(domain.AddressedDiagnosis(diagnosis_id=diagnosis.pk, code=diagnosis.code),),
            goals=(
                domain.Goal(
                    number=1,
                    text=texts["goal"],
                    objectives=(domain.Objective(text=texts["objective"], target_date=target),),
                ),
            ),
            interventions=(
                domain.Intervention(
                    modality=texts["modality"], frequency=texts["frequency"], clinician=models.clinician_of(clinician)
                ),
            ),
        ),
        actor=clinician,
    )
    plan = services.plan_sign(plan_id=plan.id, actor=clinician)
    services.plan_agreement_record(
        plan_id=plan.id,
        agreed_on=timezone.localdate(),
        method=domain.AgreementMethod.SIGNED_IN_PERSON,
        note=marker("repo-agreement"),
        actor=clinician,
    )
    note = notes_factories.signed(clinician, patient)
    services.objective_progress_record(
        objective_id=plan.goals[0].objectives[0].id,
        note_id=note.id,
        status=domain.ObjectiveStatus.IN_PROGRESS,
        comment=marker("repo-progress"),
        actor=clinician,
    )
    markers += [marker("repo-agreement"), marker("repo-progress")]
    draft = services.plan_revise(plan_id=plan.id, actor=clinician)
    services.plan_discontinue(
        plan_id=draft.id, reason=domain.DiscontinueReason.OTHER, note=marker("repo-closing"), actor=clinician
    )
    markers.append(marker("repo-closing"))

    # Through the admin: a new version written on the form, signed, then revised from its page.
    client.force_login(clinician)
    admin_texts = {name: marker(f"admin-{name}") for name in ("problems", "goal", "objective", "modality", "frequency")}
    markers.extend(admin_texts.values())
    form = {
        "patient": str(patient.id),
        "problems": admin_texts["problems"],
        "diagnoses_addressed": [str(diagnosis.pk)],
        "version": "1",
        "goals-TOTAL_FORMS": "1",
        "goals-INITIAL_FORMS": "0",
        "goals-0-number": "1",
        "goals-0-text": admin_texts["goal"],
        "objectives-TOTAL_FORMS": "1",
        "objectives-INITIAL_FORMS": "0",
        "objectives-0-goal_number": "1",
        "objectives-0-text": admin_texts["objective"],
        "objectives-0-target_date": target.isoformat(),
        "objectives-0-status": "not_started",
        "interventions-TOTAL_FORMS": "1",
        "interventions-INITIAL_FORMS": "0",
        "interventions-0-modality": admin_texts["modality"],
        "interventions-0-frequency": admin_texts["frequency"],
        "interventions-0-clinician": str(clinician.pk),
        "_sign": "Save and sign",
    }
    assert client.post(reverse("admin:treatment_plans_treatmentplan_add"), form).status_code == 302
    current = models.TreatmentPlan.objects.get(status=models.SIGNED)
    url = lambda name: reverse(f"admin:treatment_plans_treatmentplan_{name}", args=[current.pk])  # noqa: E731
    response = client.post(
        url("progress"), {"note": str(note.id), "status_0": "met", "comment_0": marker("admin-progress")}
    )
    assert response.status_code == 302
    markers.append(marker("admin-progress"))
    assert client.post(url("revise"), {"version": str(current.version)}).status_code == 302
    client.get(reverse("admin:treatment_plans_treatmentplan_changelist"))
    client.get(url("history"))
    client.get(reverse("admin:index"))
    client.get(reverse("admin:patients_patient_change", args=[patient.id]))

    assert models.TreatmentPlan.objects.count() == 4 and models.ObjectiveProgress.objects.count() == 2
    assert_no_plaintext(markers)
