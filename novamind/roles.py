"""The clinic's roles and what each may do: the permission matrix, written once.

A role is a Django group of the same name. `MATRIX` says, for every role, which actions it has
on which model; nothing else grants a group a permission. The data migration
`novamind.0003_roles`, the post-migrate step (so a changed matrix takes effect on the next
`migrate`) and `manage.py sync_roles` all apply it with `sync()`, which makes each group hold
exactly the permissions listed here, adding and removing as needed.

Actions are Django's model permissions (view, add, change, delete) or a model's own permission
named by its codename (declared in that model's Meta.permissions). Nobody deletes clinical
records (they are retained; the admin refuses deletes on every audited model), so no role has
"delete" on one.

A role is what the clinic lets a person do; the staff profile says what they are qualified to
do. Both are checked: prescribing needs the prescriber role and a staff profile that says
prescriber (and a DEA number for controlled substances); co-signing needs the supervisor role
and a profile that says supervisor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

VIEW, ADD, CHANGE, DELETE = "view", "add", "change", "delete"
DEFAULT_ACTIONS = (VIEW, ADD, CHANGE, DELETE)

# Permissions of the models' own (Meta.permissions), by codename.
COSIGN = "cosign_clinicalnote"  # clinical_notes.ClinicalNote
CURRENT_MEDICATIONS = "view_current_medications"  # medications.MedicationOrder
AUDIT_REPORT = "view_audit_report"  # novamind.AccessLogEntry

FRONT_DESK = "Front desk"
CLINICIAN = "Clinician"
PRESCRIBER = "Prescriber"
SUPERVISOR = "Supervisor"
PRACTICE_ADMIN = "Practice admin"
AUDITOR = "Auditor"


@dataclasses.dataclass(frozen=True)
class Role:
    """A named set of permissions, held as a Django group of the same name."""

    name: str
    description: str
    grants: Mapping[str, frozenset[str]]  # model label ("patients.patient") -> actions

    def permissions(self) -> set[tuple[str, str]]:
        """Return the (app label, codename) pairs this role holds."""
        return {
            (label.split(".")[0], codename(action, label))
            for label, actions in self.grants.items()
            for action in actions
        }


def codename(action: str, label: str) -> str:
    """Return the permission codename of `action` on the model `label` ("app.model")."""
    return f"{action}_{label.split('.')[1]}" if action in DEFAULT_ACTIONS else action


def _grants(*parts: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """Return the union of several grant tables (a role built on another one)."""
    merged: dict[str, set[str]] = {}
    for part in parts:
        for label, actions in part.items():
            merged.setdefault(label, set()).update(actions)
    return {label: frozenset(actions) for label, actions in merged.items()}


# The schedule: patients' demographics, appointments and series; rooms are read. The front desk
# puts clinicians on patients' care teams (patients.policy: how care begins).
_SCHEDULING = {
    "patients.patient": (VIEW, ADD, CHANGE),
    "patients.careassignment": (VIEW, ADD, CHANGE),
    "appointments.room": (VIEW,),
    "appointments.appointmentseries": (VIEW, ADD, CHANGE),
    "appointments.appointment": (VIEW, ADD, CHANGE),
}

# The clinical record. Medication orders are read; allergies are recorded by any clinician.
# Patients are registered by the front desk; clinicians update them (the allergy list is
# edited on the patient's page).
_CLINICAL = {
    "patients.patient": (VIEW, CHANGE),
    "patients.careassignment": (VIEW,),  # their patients' care teams; only the front desk assigns
    "appointments.room": (VIEW,),
    "appointments.appointmentseries": (VIEW, ADD, CHANGE),
    "appointments.appointment": (VIEW, ADD, CHANGE),
    "clinical_notes.clinicalnote": (VIEW, ADD, CHANGE),
    "clinical_notes.addendum": (VIEW, ADD),
    "clinical_notes.psychotherapynoteauthorization": (VIEW, ADD, CHANGE),
    "medications.medicationorder": (VIEW, CURRENT_MEDICATIONS),
    "medications.allergy": (VIEW, ADD, CHANGE),
    "diagnoses.diagnosis": (VIEW, ADD, CHANGE),  # the problem list; resolved or ruled out, never deleted
    # Treatment plans: drafted, signed and revised as a whole (its parts are written with the plan);
    # discontinued, never deleted. Progress entries are recorded once, never changed.
    "treatment_plans.treatmentplan": (VIEW, ADD, CHANGE),
    "treatment_plans.plandiagnosis": (VIEW, ADD, CHANGE),
    "treatment_plans.goal": (VIEW, ADD, CHANGE),
    "treatment_plans.objective": (VIEW, ADD, CHANGE),
    "treatment_plans.intervention": (VIEW, ADD, CHANGE),
    "treatment_plans.objectiveprogress": (VIEW, ADD),
    # Questionnaires: recorded, corrected and voided (never deleted); risk answers reviewed by the care team.
    "assessments.response": (VIEW, ADD, CHANGE),
    "assessments.safetyalert": (VIEW, CHANGE),
}

ROLES = (
    Role(
        FRONT_DESK,
        "Registers patients and keeps the schedule. Sees a patient's current "
        "medication list on their page, but no order detail, no notes, no allergies. Enters "
        "questionnaires filled in on paper, and never sees an answer or a score.",
        # A questionnaire the patient filled in on paper is entered at the desk: add only. Without the
        # view permission no answer, score, chart or risk alert is ever shown to the front desk
        # (the admin's list, record and history pages answer 403; the patient page shows no measures).
        _grants(
            _SCHEDULING,
            {"medications.medicationorder": (CURRENT_MEDICATIONS,), "assessments.response": (ADD,)},
        ),
    ),
    Role(
        CLINICIAN,
        "Sees and treats patients: appointments, clinical notes (psychotherapy notes "
        "stay private to their author), allergies, questionnaires and their risk answers; "
        "reads medication orders.",
        _grants(_CLINICAL),
    ),
    Role(
        PRESCRIBER,
        "A clinician who also orders, revises and discontinues medications.",
        _grants(_CLINICAL, {"medications.medicationorder": (ADD, CHANGE)}),
    ),
    Role(
        SUPERVISOR,
        "A clinician who also co-signs the notes they are asked to co-sign.",
        _grants(_CLINICAL, {"clinical_notes.clinicalnote": (COSIGN,)}),
    ),
    Role(
        PRACTICE_ADMIN,
        "Manages staff accounts (users, their roles, staff profiles), rooms and "
        "login lockouts. No patient or clinical content.",
        _grants(
            {
                "auth.user": (VIEW, ADD, CHANGE),
                "auth.group": (VIEW,),  # the roles themselves come from this module
                "novamind.staffprofile": (VIEW, ADD, CHANGE),
                "appointments.room": (VIEW, ADD, CHANGE),
                "axes.accessattempt": (VIEW, DELETE),  # deleting a lockout unlocks the account
            }
        ),
    ),
    Role(
        AUDITOR,
        "Reads the access log, login attempts and the audit report (change history "
        "and accesses, field names only). No patient or clinical content.",
        _grants(
            {
                "novamind.accesslogentry": (VIEW, AUDIT_REPORT),
                "patients.emergencyaccessgrant": (VIEW,),  # reviews "break the glass" access (patients.policy)
                "axes.accessattempt": (VIEW,),
                "axes.accesslog": (VIEW,),
                "axes.accessfailurelog": (VIEW,),
            }
        ),
    ),
)
MATRIX: dict[str, Role] = {role.name: role for role in ROLES}


class MatrixError(Exception):
    """The matrix names a permission that does not exist."""


@dataclasses.dataclass
class SyncResult:
    """What `sync()` did, or would do, to each group."""

    created: list[str] = dataclasses.field(default_factory=list)
    added: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    removed: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Return whether any group was (or would be) created or changed."""
        return bool(self.created or self.added or self.removed)

    def describe(self) -> list[str]:
        """Return one line per change, permissions named app.codename."""
        lines = [f"created group {name}" for name in self.created]
        lines += [f"{name}: + {', '.join(perms)}" for name, perms in self.added.items()]
        lines += [f"{name}: - {', '.join(perms)}" for name, perms in self.removed.items()]
        return lines


def sync(
    *, group_model, permission_model, installed_apps: Iterable[str], strict: bool = True, dry_run: bool = False
) -> SyncResult:
    """Make every role's group hold exactly the permissions of the matrix.

    Takes the models as arguments so the data migration can pass its historical ones.
    Entries of apps that are not installed are left out. A permission of an installed app
    that does not exist raises MatrixError when `strict` (a typo in the matrix); otherwise
    it is skipped (a migration runs before later models exist; the post-migrate step
    applies the rest).
    """
    installed = set(installed_apps)
    existing = {
        (app_label, code): pk
        for pk, app_label, code in permission_model.objects.values_list("pk", "content_type__app_label", "codename")
    }
    names = {pk: f"{app_label}.{code}" for (app_label, code), pk in existing.items()}
    result = SyncResult()
    for role in ROLES:
        wanted, missing = set(), []
        for key in sorted(role.permissions()):
            if key[0] not in installed:
                continue
            if key in existing:
                wanted.add(existing[key])
            else:
                missing.append(".".join(key))
        if missing and strict:
            raise MatrixError(f"Role {role.name!r} names permissions that do not exist: {', '.join(missing)}.")
        group = group_model.objects.filter(name=role.name).first()
        held = set(group.permissions.values_list("pk", flat=True)) if group is not None else set()
        if group is None:
            result.created.append(role.name)
        if wanted - held:
            result.added[role.name] = sorted(names[pk] for pk in wanted - held)
        if held - wanted:
            result.removed[role.name] = sorted(names[pk] for pk in held - wanted)
        if dry_run:
            continue
        if group is None:
            group = group_model.objects.create(name=role.name)
        group.permissions.set(wanted)
    return result
