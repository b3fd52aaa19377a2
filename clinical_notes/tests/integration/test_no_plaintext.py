"""No plaintext PHI: note sections, addenda and authorization reasons are stored only as ciphertext,
in the live tables, their history, the admin log, the access log and (on PostgreSQL) a pg_dump."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from clinical_notes import domain, models, services
from clinical_notes.tests.factories import a_diagnosis, addressing, make_clinician, notes_as
from novamind.tests.phi_scan import assert_no_plaintext
from patients import domain as patients_domain
from patients import repository as patients_repository


def marker(name):
    return f"zqx-{name}-marker"


@pytest.mark.django_db(transaction=True)
def test_no_note_text_is_stored_in_plaintext_anywhere(client):
    author = make_clinician("drpatel")
    reader = make_clinician("msmith")
    supervisor = make_clinician("drlee", supervisor=True)
    patient = patients_repository.DjangoPatientRepository(actor=author).add(
        patients_domain.Patient(
            legal_first_name="Robin",
            legal_last_name="Okafor",
            date_of_birth=dt.date(1990, 5, 17),
        )
    )
    markers = []

    # Through the repository: one note of each format, every section filled, then signed.
    notes = notes_as(author)
    for note_format, kind in (
        (domain.NoteFormat.SOAP, domain.NoteKind.INTAKE_ASSESSMENT),
        (domain.NoteFormat.DAP, domain.NoteKind.PSYCHOTHERAPY_NOTE),
        (domain.NoteFormat.FREE_TEXT, domain.NoteKind.DISCHARGE_SUMMARY),
    ):
        sections = {name: marker(f"repo-{note_format.value}-{name}") for name in domain.SECTIONS_BY_FORMAT[note_format]}
        markers.extend(sections.values())
        note = notes.add(
            domain.ClinicalNote(
                patient_id=patient.id,
                author=models.staff_of(author),
                kind=kind,
                format=note_format,
                date_of_service=timezone.localdate(),
                sections=domain.Sections(**sections),
            )
        )
        notes.sign(note.id)
        notes.add_addendum(
            note.id,
            text=marker(f"repo-{note_format.value}-addendum"),
            reason=marker(f"repo-{note_format.value}-reason"),
        )
        markers += [marker(f"repo-{note_format.value}-addendum"), marker(f"repo-{note_format.value}-reason")]
        if kind == domain.NoteKind.PSYCHOTHERAPY_NOTE:
            services.authorization_grant(
                note_id=note.id,
                grantee=reader,
                reason=marker("repo-authorization"),
                expires_at=timezone.now() + dt.timedelta(days=2),
                actor=author,
            )
            markers.append(marker("repo-authorization"))
            notes_as(reader).get_by_id(note.id)

    # Through the admin: draft, edit, save and sign, addendum, co-signature, authorization.
    client.force_login(author)
    sections = {name: marker(f"admin-{name}") for name in ("subjective", "objective", "assessment", "plan")}
    markers.extend(sections.values())
    form = {
        "patient": str(patient.id),
        "kind": "psychotherapy_note",
        "format": "soap",
        "date_of_service": timezone.localdate().isoformat(),
        "data": "",
        "body": "",
        "version": "1",
        **{name: "draft text" for name in sections},
    }
    assert client.post(reverse("admin:clinical_notes_clinicalnote_add"), form).status_code == 302
    row = models.ClinicalNote.objects.get(kind="psychotherapy_note", format="soap")
    change = reverse("admin:clinical_notes_clinicalnote_change", args=[row.pk])
    response = client.post(change, {**form, **sections, "_sign": "Save and sign"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    tool = lambda name: reverse(f"admin:clinical_notes_clinicalnote_{name}", args=[row.pk])  # noqa: E731
    assert (
        client.post(tool("addendum"), {"text": marker("admin-addendum"), "reason": marker("admin-reason")}).status_code
        == 302
    )
    assert (
        client.post(
            tool("authorize"), {"grantee": reader.pk, "reason": marker("admin-authorization"), "days": "3"}
        ).status_code
        == 302
    )
    markers += [marker("admin-addendum"), marker("admin-reason"), marker("admin-authorization")]
    client.post(reverse("admin:clinical_notes_clinicalnote_changelist"), {"record": "psychotherapy"})
    client.get(reverse("admin:clinical_notes_clinicalnote_history", args=[row.pk]))

    general = notes.add(
        domain.ClinicalNote(
            patient_id=patient.id,
            author=models.staff_of(author),
            kind=domain.NoteKind.PROGRESS_NOTE,
            format=domain.NoteFormat.SOAP,
            date_of_service=timezone.localdate(),
            sections=domain.Sections(subjective="s", objective="o", assessment="a", plan="p"),
            diagnoses=addressing(a_diagnosis(author, patient)),
        )
    )
    notes.sign(general.id)
    assert (
        client.post(
            reverse("admin:clinical_notes_clinicalnote_request_cosignature", args=[general.id]),
            {"cosign_requested_from": supervisor.pk},
        ).status_code
        == 302
    )

    assert models.ClinicalNote.objects.filter(status="signed").count() == 5
    assert models.Addendum.objects.count() == 4
    assert_no_plaintext(markers)
