"""Every management command that takes --actor × every role × a patient inside and outside care.

The commands are discovered from the project's apps (their parsers are inspected for --actor), so
a new command fails `test_every_actor_command_is_classified` until it is added to COMMANDS, the one
table that says what permission it needs and whether it is about one patient. A command must
refuse (CommandError, nothing of the record printed, nothing written) what the same user could not
do in the admin; and whatever it answers, it never crashes with another exception.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import pathlib
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.db import transaction
from django.utils import timezone

from clinic.tests.integration import walk_support as walk
from novamind import roles
from patients import policy

pytestmark = pytest.mark.django_db

PROJECT_APPS = {
    "novamind",
    "patients",
    "diagnoses",
    "appointments",
    "clinical_notes",
    "medications",
    "assessments",
    "treatment_plans",
    "clinic",
    "fhir",
}
SUPER = "superusers only (no role grants it)"
ONE_PATIENT = "one patient's record: outside care is refused"
LIST = "several patients: a restricted user's output holds none of the outside patient"
GLOBAL = "about no patient"


@dataclasses.dataclass(frozen=True)
class Command:
    """What one command needs: every permission in `perms`, and what it is about."""

    perms: tuple[str, ...] | str
    scope: str
    args: Callable  # (clinic, records, files) -> argument list, --actor excluded
    inside: str | None = None  # "any": authorship (or configuration) decides for those allowed: no crash
    clinician_only: bool = False  # signs in the actor's name: needs a clinician's staff profile
    or_roles: tuple[str, ...] = ()  # roles that suffice instead of `perms`


COMMANDS: dict[str, Command] = {
    "export_patient_record": Command(
        (
            "patients.view_patient",
            "diagnoses.view_diagnosis",
            "appointments.view_appointment",
            "clinical_notes.view_clinicalnote",
            "medications.view_medicationorder",
            "medications.view_allergy",
            "assessments.view_response",
            "assessments.view_safetyalert",
        ),
        ONE_PATIENT,
        lambda clinic, records, files: ["--patient", records.mrn, "--format", "json"],
    ),
    "diagnosis_list": Command(
        ("diagnoses.view_diagnosis",),
        ONE_PATIENT,
        lambda clinic, records, files: ["--patient", records.mrn],
    ),
    "medication_list": Command(
        ("medications.view_current_medications",),
        ONE_PATIENT,
        lambda clinic, records, files: ["--patient", records.mrn],
    ),
    "audit_report": Command(
        ("novamind.view_audit_report",),
        GLOBAL,  # field names and accesses only, for the auditor; no clinical content
        lambda clinic, records, files: ["--patient", records.mrn],
    ),
    "add_addendum": Command(
        ("clinical_notes.add_addendum",),
        ONE_PATIENT,
        clinician_only=True,
        args=lambda clinic, records, files: [
            str(records.ids["note"]),
            "--text-file",
            files["text"],
            "--reason-file",
            files["reason"],
        ],
    ),
    "edit_note": Command(
        ("clinical_notes.change_clinicalnote",),
        ONE_PATIENT,
        lambda clinic, records, files: [
            str(records.ids["draft"]),
            "--section",
            "subjective",
            "--text-file",
            files["text"],
        ],
        inside="any",  # only the author edits their draft
    ),
    "sign_note": Command(
        ("clinical_notes.change_clinicalnote",),
        ONE_PATIENT,
        lambda clinic, records, files: [str(records.ids["draft"])],
        inside="any",  # only the author signs their draft
    ),
    "day_sheet": Command(
        ("appointments.view_appointment",),
        LIST,
        lambda clinic, records, files: [
            "--clinician",
            clinic.other.username if records is clinic.patients[walk.OUTSIDE] else "walk-prescriber",
            "--date",
            timezone.localdate()
            .__add__(timezone.timedelta(days=3 if records is clinic.patients[walk.OUTSIDE] else 2))
            .isoformat(),
        ],
    ),
    "mark_no_shows": Command(("appointments.change_appointment",), LIST, lambda clinic, records, files: ["--dry-run"]),
    "purge_expired": Command(SUPER, GLOBAL, lambda clinic, records, files: ["--dry-run"]),
    # Integrity checks and key rotation decrypt every record: operations of a superuser (no role grants them).
    # An integrity check, not a read of content: the notes' viewers (a care role checks only its
    # own patients' notes, whose MRNs a problem names) and the Auditor role.
    "verify_notes": Command(
        ("clinical_notes.view_clinicalnote",), LIST, lambda clinic, records, files: [], or_roles=(roles.AUDITOR,)
    ),
    "verify_plans": Command(
        ("treatment_plans.view_treatmentplan",), LIST, lambda clinic, records, files: [], or_roles=(roles.AUDITOR,)
    ),
    "rotate_encryption_keys": Command(SUPER, GLOBAL, lambda clinic, records, files: ["--verify-only"]),
    # Backups read every table: a superuser's operations. Here (no backup key configured, SQLite, or
    # no backup yet) the superuser's run may be refused for its configuration, never crash;
    # clinic/tests/integration/test_backups.py runs them for real on PostgreSQL.
    "backup_database": Command(SUPER, GLOBAL, lambda clinic, records, files: ["--dir", files["backups"]], inside="any"),
    "restore_drill": Command(SUPER, GLOBAL, lambda clinic, records, files: ["--dir", files["backups"]], inside="any"),
    # Dropping months of the access log: a superuser's act. Here (SQLite, or no partition of so old a
    # month) the superuser's dry run is refused for that, never a crash; test_access_log_partitions drops.
    "access_log_partitions": Command(
        SUPER, GLOBAL, lambda clinic, records, files: ["--drop-through", "2000-01", "--dry-run"], inside="any"
    ),
    # "Any active staff actor may run it: it gives nobody a role" (its docstring).
    "sync_roles": Command((), GLOBAL, lambda clinic, records, files: ["--check"]),
    # An integrity check of the stored scores: the responses' viewers (a care role checks only its patients').
    "verify_assessments": Command(("assessments.view_response",), LIST, lambda clinic, records, files: []),
    # The risk answers waiting for review, by MRN: the alerts' viewers (a care role sees only its patients').
    "risk_alerts": Command(("assessments.view_safetyalert",), LIST, lambda clinic, records, files: []),
    "import_patients": Command(
        ("patients.add_patient",), GLOBAL, lambda clinic, records, files: [files["csv"], "--dry-run"]
    ),
    # An allergy for the patient named by MRN: the services' permission, and care for that patient.
    "import_fhir_bundle": Command(
        ("medications.add_allergy",),
        ONE_PATIENT,
        lambda clinic, records, files: [fhir_allergy_file(files, records), "--dry-run"],
    ),
}


def fhir_allergy_file(files, records) -> str:
    """Return a FHIR file of one allergy of the patient `records` names by MRN (written next to the others)."""
    from fhir.export import identifier_system

    path = pathlib.Path(files["text"]).with_name(f"allergy-{records.mrn}.json")
    resource = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "Walkallergen"},
        "patient": {"identifier": {"system": identifier_system(), "value": records.mrn}},
    }
    path.write_text(json.dumps(resource), encoding="utf-8")
    return str(path)


def actor_commands() -> dict[str, str]:
    """Return {command: app} of the project's commands whose parser has --actor."""
    found = {}
    for name, app in get_commands().items():
        if app.split(".")[-1] not in PROJECT_APPS:
            continue
        parser = load_command_class(app, name).create_parser("manage.py", name)
        if any(action.dest == "actor" for action in parser._actions):
            found[name] = app
    return found


def test_every_actor_command_is_classified():
    found = actor_commands()
    assert not set(found) - set(COMMANDS), (
        f"commands with --actor not in COMMANDS: {sorted(set(found) - set(COMMANDS))}"
    )
    assert not set(COMMANDS) - set(found), (
        f"COMMANDS names commands without --actor: {sorted(set(COMMANDS) - set(found))}"
    )


def may(user, perms, or_roles=()) -> bool:
    if perms == SUPER:
        return user.is_superuser
    if or_roles and user.groups.filter(name__in=or_roles).exists():
        return True
    return user.is_superuser or all(user.has_perm(perm) for perm in perms)


def expected(command: Command, user, which: str) -> str:
    if not may(user, command.perms, command.or_roles):
        return "refused"
    profile = getattr(user, "staff_profile", None)
    if command.clinician_only and not (profile and profile.is_clinician):
        return "refused"
    if command.scope == ONE_PATIENT and policy.is_restricted(user) and which == walk.OUTSIDE:
        return "refused"
    if command.inside == "any":
        return "no crash"
    return "runs"


def record_text(records) -> list[str]:
    """Return what of the patient's record a refused command must not print."""
    return [records.last_name, "Walkfirst", "1980-03-04", "sertraline", "penicillin", "Sleeping better", "F32.1"]


def run(name, arguments, models):
    """Run the command in a transaction rolled back after it; return (outcome, output, tables written)."""
    out, err = io.StringIO(), io.StringIO()
    wrote = []
    with transaction.atomic():
        before = walk.fingerprint(models)
        try:
            # A savepoint, so that a crash leaves the outer transaction usable (PostgreSQL); what a
            # refused run wrote is counted inside it, before anything is rolled back.
            with transaction.atomic():
                try:
                    call_command(name, *arguments, stdout=out, stderr=err)
                    outcome = "runs"
                except CommandError as error:
                    outcome, err = "refused", io.StringIO(err.getvalue() + str(error))
                except SystemExit as error:
                    outcome = "runs" if not error.code else "refused"
                wrote = walk.written(before, walk.fingerprint(models))
        except Exception as error:  # noqa: BLE001 - a crash is what the walk reports
            outcome = f"crashed ({type(error).__name__}: {str(error)[:100]})"
        transaction.set_rollback(True)
    return outcome, out.getvalue() + err.getvalue(), wrote


def test_every_actor_command_refuses_what_the_admin_refuses(tmp_path):
    logging.disable(logging.WARNING)
    try:
        clinic = walk.build_clinic()
        models = walk.record_models()
        (tmp_path / "text.txt").write_text("Called the patient back; no change.", encoding="utf-8")
        (tmp_path / "reason.txt").write_text("Late entry.", encoding="utf-8")
        (tmp_path / "patients.csv").write_text(
            "legal_first_name,legal_last_name,date_of_birth\nAlex,Walkimport,1975-06-07\n", encoding="utf-8"
        )
        files = {
            "text": str(tmp_path / "text.txt"),
            "reason": str(tmp_path / "reason.txt"),
            "csv": str(tmp_path / "patients.csv"),
            "backups": str(tmp_path / "backups"),
        }
        (tmp_path / "backups").mkdir()
        mismatches, runs = [], 0
        for name, command in COMMANDS.items():
            patients = (walk.INSIDE, walk.OUTSIDE) if command.scope != GLOBAL else (walk.INSIDE,)
            for role, user in clinic.users.items():
                for which in patients:
                    records = clinic.patients[which]
                    arguments = [*command.args(clinic, records, files), "--actor", user.username]
                    outcome, output, wrote = run(name, arguments, models)
                    runs += 1
                    want = expected(command, user, which)
                    problems = []
                    if outcome.startswith("crashed") or (want != "no crash" and outcome != want):
                        problems.append(f"{outcome}, expected {want}")
                    if outcome == "refused" and wrote:
                        problems.append(f"refused but wrote {wrote}")
                    if want == "refused":
                        shown = [text for text in record_text(records) if text in output]
                        if shown:
                            problems.append(f"printed {shown}")
                    if command.scope == LIST and policy.is_restricted(user):
                        shown = [text for text in (clinic.patients[walk.OUTSIDE].mrn, "Outsidewalk") if text in output]
                        if shown:
                            problems.append(f"printed the outside patient's {shown}")
                    for problem in problems:
                        mismatches.append(f"{name} | {role} | {which} | {' '.join(arguments)} | {problem}")
    finally:
        logging.disable(logging.NOTSET)
    assert not mismatches, f"{len(mismatches)} mismatches in {runs} runs:\n" + "\n".join(mismatches)
