"""Print a patient's diagnoses: the problem list, then what was resolved or ruled out."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from diagnoses import codeset, domain, selectors
from novamind import access
from novamind.commands import active_staff, add_actor_argument, refusals
from patients import domain as patients_domain
from patients import policy
from patients import repository as patients_repository


class Command(BaseCommand):
    help = (
        "Print the diagnoses of the patient with the given MRN (ICD-10-CM code, official description, "
        "status and dates): the problem list first, the primary diagnosis at its top, then those "
        "resolved or ruled out. Read-only; the output contains PHI, and the read is recorded in the "
        "access log under --actor, who must be allowed to read diagnoses in the admin: a role that "
        "views them, and the patient in their care."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patient", required=True, metavar="MRN", help="The patient's medical record number, e.g. NM12345674."
        )
        add_actor_argument(parser, help_text="The staff member reading the list (an active staff user).")

    def handle(self, *args, patient, actor, **options):
        user = active_staff(actor, permissions=(selectors.VIEW,))
        mrn = patient.strip().upper()
        if not patients_domain.is_valid_mrn(mrn):
            raise CommandError(
                f"{patient!r} is not a NovaMind MRN (NM, seven digits and a check digit, e.g. NM12345674)."
            )
        found = patients_repository.DjangoPatientRepository(actor=user).find_by_mrn(mrn)
        if found is None or not policy.may_see(user, found.id):
            # As in the admin, a patient outside the actor's care is not there: the answer does
            # not tell whether the MRN exists.
            if policy.is_restricted(user):
                raise CommandError(f"--actor '{actor}' has no patient with the MRN {mrn} in their care.")
            raise CommandError(f"No patient has the MRN {mrn}.")
        with refusals():
            diagnoses = selectors.problem_list(patient_id=found.id, user=user, include_past=True)
        current = [diagnosis for diagnosis in diagnoses if diagnosis.is_current]
        access.record(
            user=user,
            action="print",
            category="diagnoses",
            patient=found,
            detail=f"diagnosis_list: {len(current)} current, {len(diagnoses) - len(current)} resolved or ruled out",
        )
        self.stdout.write("\n".join(render(found, diagnoses, reader=user.get_username())))


def render(patient, diagnoses: list[domain.Diagnosis], *, reader: str) -> list[str]:
    """Return the lines of the printed list."""
    born = f" (born {patient.date_of_birth:%Y-%m-%d})" if patient.date_of_birth else ""
    lines = [
        f"Diagnoses: {patient.mrn} {patient.display_name}{born}",
        f"As of {timezone.localdate():%Y-%m-%d}, printed by {reader}; codes of the {codeset.CODE_SET}",
        "",
        "Problem list:",
    ]
    current = [diagnosis for diagnosis in diagnoses if diagnosis.is_current]
    past = [diagnosis for diagnosis in diagnoses if not diagnosis.is_current]
    if not current:
        lines.append("  No current diagnoses.")
    lines.extend(_entry(number, diagnosis) for number, diagnosis in enumerate(current, start=1))
    if past:
        lines += ["", "Resolved or ruled out:"]
        lines.extend(_entry(number, diagnosis) for number, diagnosis in enumerate(past, start=1))
    return lines


def _entry(number: int, diagnosis: domain.Diagnosis) -> str:
    primary = " (PRIMARY)" if diagnosis.is_primary else ""
    since = f" since {diagnosis.status_since:%Y-%m-%d}" if diagnosis.status_since else ""
    onset = f"; onset {diagnosis.onset_date:%Y-%m-%d}" if diagnosis.onset_date else ""
    line = f"{number:>3}. {diagnosis.label}{primary}\n     {diagnosis.status.label}{since}{onset}"
    if diagnosis.specifier:
        line += f"\n     {' '.join(diagnosis.specifier.split())}"
    return line
