"""No plaintext PHI from appointments anywhere the database keeps data, nor in the logs."""

import logging

import pytest
from django.urls import reverse
from django.utils import timezone

from appointments import domain, models, services
from appointments.tests.conftest import local
from novamind.tests.phi_scan import assert_no_plaintext, plaintext_hits

MARKERS = [
    "Qxreasonmark",
    "Qxcancelmark",
    "Qxseriesmark",
    "Qxadminreasonmark",
    "Qxadmincancelmark",
    "Qxrescheduledmark",
]


@pytest.mark.django_db(transaction=True)
def test_markers_in_every_appointment_phi_field_never_reach_a_table_history_admin_log_or_log(
    client,
    staff,
    repo,
    visit,
    patient,
    clinician,
    room,
    other_patient,
    other_room,
    caplog,
):
    caplog.set_level(logging.DEBUG)
    # Through the repository and services: a visit, its cancellation, a series.
    booked = services.appointment_book(actor=repo.actor, appointment=visit(reason_for_visit="Qxreasonmark low mood"))
    services.appointment_cancel(
        actor=repo.actor, appointment_id=booked.id, by="patient", reason="Qxcancelmark hospital"
    )
    services.series_book(
        actor=repo.actor,
        series=domain.Series(
            patient_id=other_patient.id,
            clinician_id=clinician.pk,
            start=local(2, 12),
            end=local(2, 12, 50),
            count=3,
            room_id=other_room.pk,
            reason_for_visit="Qxseriesmark grief",
        ),
    )
    # Through the admin: book, edit, cancel with a reason, reschedule, view the pages.
    client.force_login(staff)
    start = timezone.localtime(local(3, 9))
    day = start.strftime("%Y-%m-%d")
    form = {
        "patient": str(patient.id),
        "clinician": str(clinician.pk),
        "start_0": day,
        "start_1": "09:00",
        "end_0": day,
        "end_1": "09:50",
        "kind": "therapy",
        "modality": "in_person",
        "room": str(room.pk),
        "reason_for_visit": "Qxadminreasonmark",
        "version": "1",
    }
    assert client.post(reverse("admin:appointments_appointment_add"), form).status_code == 302
    added = models.Appointment.objects.get(start=local(3, 9))
    change = reverse("admin:appointments_appointment_change", args=[added.pk])
    assert client.post(change, {**form, "reason_for_visit": "Qxrescheduledmark"}).status_code == 302
    assert (
        client.post(
            reverse("admin:appointments_appointment_cancel", args=[added.pk]),
            {"by": "clinic", "reason": "Qxadmincancelmark", "version": "2"},
        ).status_code
        == 302
    )
    for url in (
        change,
        reverse("admin:appointments_appointment_history", args=[added.pk]),
        reverse("admin:appointments_appointment_changelist"),
        reverse("admin:appointments_appointment_day"),
        reverse("admin:patients_patient_change", args=[patient.id]),
    ):
        assert client.get(url).status_code == 200

    assert models.Appointment.objects.get(pk=added.pk).cancellation_reason == "Qxadmincancelmark"
    assert plaintext_hits(["Qxreasonmark"]) == []
    assert_no_plaintext(MARKERS)
    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert not [marker for marker in MARKERS if marker.lower() in logged]
