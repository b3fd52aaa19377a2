"""No plaintext PHI anywhere the database keeps data, nor in the logs."""

import datetime as dt
import logging

import pytest
from django.urls import reverse

from novamind.tests.phi_scan import assert_no_plaintext, plaintext_hits
from patients import domain, models, repository

MARKERS = {
    "legal_first_name": "Qxfirstmark",
    "legal_last_name": "Qxlastmark",
    "preferred_name": "Qxprefmark",
    "pronouns": "qxpronmark",
    "gender_identity": "qxgendermark",
    "email": "qxmailmark@example.com",
    "address_line1": "1 Qxstreetmark Rd",
    "address_line2": "Apt Qxaptmark",
    "address_city": "Qxcitymark",
    "address_region": "Qxregionmark",
    "address_postal_code": "QX9MARK",
    "address_country": "Qxcountrymark",
    "emergency_contact_name": "Qxcontactmark",
    "emergency_contact_relation": "qxrelationmark",
}
PHONE_DIGITS, CONTACT_DIGITS, BIRTH = "6175550163", "6175550172", dt.date(1937, 4, 29)
SCANNED = [*MARKERS.values(), PHONE_DIGITS, CONTACT_DIGITS, "1937-04-29", "intersex"]


def marked(suffix=""):
    values = {
        name: value + suffix if name != "email" else value.replace("@", f"{suffix}@") for name, value in MARKERS.items()
    }
    return values


@pytest.mark.django_db(transaction=True)
def test_markers_in_every_phi_field_never_reach_a_table_history_admin_log_session_or_log(client, staff, caplog):
    caplog.set_level(logging.DEBUG)
    # Through the repository.
    values = marked()
    repository.DjangoPatientRepository(actor=staff).add(
        domain.Patient(
            legal_first_name=values["legal_first_name"],
            legal_last_name=values["legal_last_name"],
            preferred_name=values["preferred_name"],
            pronouns=values["pronouns"],
            date_of_birth=BIRTH,
            sex_assigned_at_birth=domain.SexAssignedAtBirth.INTERSEX,
            gender_identity=values["gender_identity"],
            phone=PHONE_DIGITS,
            email=values["email"],
            address=domain.Address(
                **{k.removeprefix("address_"): v for k, v in values.items() if k.startswith("address_")}
            ),
            emergency_contact=domain.EmergencyContact(
                name=values["emergency_contact_name"],
                relation=values["emergency_contact_relation"],
                phone=CONTACT_DIGITS,
            ),
        )
    )
    # Through the admin: add, change, search, history and revert pages.
    client.force_login(staff)
    form = {
        **marked("b"),
        "date_of_birth": "1937-04-29",
        "sex_assigned_at_birth": "intersex",
        "phone": PHONE_DIGITS,
        "emergency_contact_phone": CONTACT_DIGITS,
        "version": "1",
    }
    assert client.post(reverse("admin:patients_patient_add"), form).status_code == 302
    added = models.Patient.objects.get(email_index=models.email_index(form["email"]))
    change = reverse("admin:patients_patient_change", args=[added.pk])
    assert client.post(change, {**form, "pronouns": "qxpronmarkc"}).status_code == 302
    for term in (MARKERS["legal_last_name"], PHONE_DIGITS, "1937-04-29"):
        assert client.get(reverse("admin:patients_patient_changelist"), {"q": term}).status_code == 200
    assert client.get(reverse("admin:patients_patient_history", args=[added.pk])).status_code == 200
    assert client.get(change).status_code == 200

    assert models.Patient.objects.count() == 2
    assert plaintext_hits(["Qxlastmark"]) == [] and models.Patient.history.count() == 3
    assert_no_plaintext(SCANNED)
    logged = "\n".join(record.getMessage() for record in caplog.records).lower()
    assert not [marker for marker in SCANNED if marker.lower() in logged]


@pytest.mark.django_db(transaction=True)
def test_the_scan_does_find_plaintext_when_it_is_there(staff):
    """The scanner itself must be able to fail: a marker stored in clear is reported."""
    from django.contrib.admin.models import CHANGE, LogEntry

    LogEntry.objects.create(user=staff, action_flag=CHANGE, object_repr="Qxleakmark", change_message="[]")
    assert plaintext_hits(["qxleakmark"]) == ["django_admin_log.object_repr: qxleakmark"]
