"""The load test's clinic: demo data, and one front-desk and one clinician account per virtual user.

Run in a child process on the throwaway database (`python -m loadtest.setup OUT.json --sessions N`),
after `migrate`. It writes what the Locust users need and the server never tells them: each
account's password and TOTP secret (as an authenticator app holds it), the patients each
clinician cares for, and search terms staff would type. The file lives in the run's temporary
directory and goes with it.

Accounts are created as `seed_demo` creates its own (the operator's bootstrap), then given their
roles, clinician profiles and care teams through novamind.staff and patients.services, as the
demo administrator: every write the server will see is attributed as in production.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import secrets
import sys


def build(out: str, *, sessions: int, patients: int, per_clinician: int) -> None:
    """Write the fixture file for `sessions` front-desk/clinician pairs on a seeded clinic."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "novamind.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from novamind import roles, staff
    from novamind.models import StaffProfile
    from patients import models as patient_models
    from patients import services as patient_services

    call_command("seed_demo", patients=patients, stdout=io.StringIO())
    User = get_user_model()
    admin = User.objects.get(username="admin")
    password = secrets.token_urlsafe(18)
    # One PBKDF2 hash for every account: hashing 60 passwords would take a minute, and the server
    # still checks each sign-in with the production hasher.
    hashed = make_password(password)

    def account(username: str, role: str, *, clinician: bool) -> dict:
        # Created once; a second set-up on a kept database reuses the account with a new password.
        user, _created = User.objects.update_or_create(
            username=username,
            defaults={"first_name": username, "last_name": "Load", "is_staff": True, "password": hashed},
        )
        staff.staff_roles_set(user=user, roles=(role,), actor=admin)
        if clinician and not StaffProfile.objects.filter(user=user).exists():
            staff.staff_profile_save(
                profile=StaffProfile(user=user, credentials="LCSW", is_clinician=True), actor=admin
            )
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
            user=user, name="Load test authenticator", confirmed=True
        )
        return {"id": user.pk, "username": username, "password": password, "totp_key": device.key}

    rows = list(patient_models.Patient.objects.order_by("pk")[: sessions * per_clinician])
    if len(rows) < sessions * per_clinician:
        raise SystemExit(f"Only {len(rows)} patients for {sessions} clinicians × {per_clinician}: raise --patients.")
    pairs = []
    for index in range(sessions):
        desk = account(f"loaddesk{index + 1:02}", roles.FRONT_DESK, clinician=False)
        clinician = account(f"loadclin{index + 1:02}", roles.CLINICIAN, clinician=True)
        caseload = rows[index * per_clinician : (index + 1) * per_clinician]
        user = User.objects.get(pk=clinician["id"])
        for patient in caseload:
            patient_services.care_assign(patient_id=patient.pk, clinician=user, actor=admin)
        pairs.append(
            {
                "desk": desk,
                "clinician": clinician,
                "patients": [
                    {
                        "id": str(patient.pk),
                        # As staff type it: the first letters of the last name and the birth year.
                        "search": f"{patient.legal_last_name[:3]} {patient.date_of_birth.year}",
                    }
                    for patient in caseload
                ],
            }
        )
    with open(out, "w", encoding="utf-8") as handle:
        json.dump({"pairs": pairs}, handle)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--sessions", type=int, required=True)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--per-clinician", type=int, default=8)
    arguments = parser.parse_args(argv)
    build(
        arguments.out, sessions=arguments.sessions, patients=arguments.patients, per_clinician=arguments.per_clinician
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
