"""No plaintext PHI: a diagnosis's code, description and specifier are stored only as ciphertext, in the live
table, its history, the notes' links, the admin log, the access log and (on PostgreSQL) a pg_dump."""

import dataclasses

import pytest
from django.urls import reverse
from django.utils import timezone

from clinical_notes.tests.factories import make_clinician, notes_as, signed
from diagnoses import domain, models, services
from diagnoses.tests.builders import a_diagnosis
from diagnoses.tests.conftest import make_patient
from novamind.tests.phi_scan import assert_no_plaintext

# Codes and descriptions no other table of the test holds: found anywhere in plaintext, they leaked.
THROUGH_THE_ADMIN = ("F43.22", "Adjustment disorder with anxiety")
THROUGH_THE_SERVICES = ("F41.1", "Generalized anxiety disorder")


def marker(name):
    return f"zqx-{name}-marker"


@pytest.mark.django_db(transaction=True)
def test_no_diagnosis_is_stored_in_plaintext_anywhere(client):
    clinician = make_clinician("drpatel")
    patient = make_patient(clinician)
    markers = [*THROUGH_THE_ADMIN, *THROUGH_THE_SERVICES]

    # Through the services: recorded, changed, made primary, addressed by a signed note, resolved.
    recorded = services.diagnosis_record(
        diagnosis=a_diagnosis(patient, "F41.1", specifier=marker("service-specifier")), actor=clinician
    )
    changed = services.diagnosis_update(
        diagnosis=dataclasses.replace(recorded, specifier=marker("service-changed")), actor=clinician
    )
    services.diagnosis_make_primary(diagnosis_id=changed.id, actor=clinician)
    note = signed(clinician, patient, diagnoses=[changed])
    notes_as(clinician).get_by_id(note.id)
    services.diagnosis_resolve(diagnosis_id=changed.id, actor=clinician)
    markers += [marker("service-specifier"), marker("service-changed")]

    # Through the admin: the code from the autocomplete, a changed specifier, a status step, primary.
    client.force_login(clinician)
    client.get(reverse("admin:diagnoses_diagnosis_code_autocomplete"), {"term": "adjustment disorder with anxiety"})
    response = client.post(
        reverse("admin:diagnoses_diagnosis_add"),
        {
            "patient": str(patient.id),
            "code": "F43.22",
            "specifier": marker("admin-specifier"),
            "status": "active",
            "version": "1",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    row = models.Diagnosis.objects.get(status="active")
    change = reverse("admin:diagnoses_diagnosis_change", args=[row.pk])
    assert client.post(change, {"specifier": marker("admin-changed"), "version": "1"}).status_code == 302
    status = reverse("admin:diagnoses_diagnosis_status", args=[row.pk])
    since = timezone.localdate().isoformat()
    assert client.post(status, {"status": "in_remission", "status_since": since, "version": "2"}).status_code == 302
    primary = reverse("admin:diagnoses_diagnosis_make_primary", args=[row.pk])
    assert client.post(primary, {"version": "3"}).status_code == 302
    client.get(reverse("admin:diagnoses_diagnosis_history", args=[row.pk]))
    client.get(reverse("admin:diagnoses_diagnosis_changelist"))
    markers += [marker("admin-specifier"), marker("admin-changed")]

    stored = {d.code: d for d in (r.to_domain() for r in models.Diagnosis.objects.all())}
    assert stored["F43.22"].status is domain.DiagnosisStatus.IN_REMISSION and stored["F43.22"].is_primary
    assert stored["F41.1"].specifier == marker("service-changed")
    assert_no_plaintext(markers)
