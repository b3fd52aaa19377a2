"""Print a patient's current medication list and allergies, for the chart or a referral letter."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from medications import domain, repository
from novamind import access
from novamind.commands import active_staff, add_actor_argument
from patients import domain as patients_domain
from patients import policy
from patients import repository as patients_repository

# The permissions that show a patient's current medication list in the admin (the patient page's
# current-medications section): the front desk's, or the orders' own.
LIST_PERMISSIONS = ("medications.view_current_medications", "medications.view_medicationorder")
VIEW_ALLERGIES = "medications.view_allergy"


class Command(BaseCommand):
    help = (
        "Print the current medication list (active and on-hold orders) of the patient with the "
        "given MRN, with their recorded allergies, for the chart or a referral letter. Read-only; "
        "the output contains PHI, and the read is recorded in the access log under --actor, who "
        "must be allowed to read the list in the admin: a role that shows it, and the patient in "
        "their care. The allergies are printed only for a role that reads allergies."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patient", required=True, metavar="MRN", help="The patient's medical record number, e.g. NM12345674."
        )
        add_actor_argument(parser, help_text="The staff member reading the list (an active staff user).")

    def handle(self, *args, patient, actor, **options):
        user = active_staff(actor)
        if not any(policy.may(user, permission) for permission in LIST_PERMISSIONS):
            raise CommandError(
                f"--actor '{actor}' may not read medication lists: their role shows no current medications."
            )
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
        orders = repository.DjangoMedicationOrderRepository(actor=user).active_for_patient(found.id)
        show_allergies = policy.may(user, VIEW_ALLERGIES)
        allergies = repository.DjangoAllergyRepository(actor=user).for_patient(found.id) if show_allergies else None
        access.record(
            user=user,
            action="print",
            category="medications",
            patient=found,
            detail=f"medication_list: {len(orders)} order(s), {len(allergies or [])} allerg(ies)",
        )
        self.stdout.write("\n".join(render(found, orders, allergies, reader=user.get_username())))


def render(
    patient, orders: list[domain.MedicationOrder], allergies: list[domain.Allergy] | None, *, reader: str
) -> list[str]:
    """Return the lines of the printed list; `allergies` None leaves them out (the reader may not see them)."""
    born = f" (born {patient.date_of_birth:%Y-%m-%d})" if patient.date_of_birth else ""
    lines = [
        f"Current medications: {patient.mrn} {patient.display_name}{born}",
        f"As of {timezone.localdate():%Y-%m-%d}, printed by {reader}",
        "",
    ]
    if not orders:
        lines.append("No current medication orders.")
    for number, order in enumerate(orders, start=1):
        held = " (ON HOLD)" if order.status is domain.OrderStatus.ON_HOLD else ""
        schedule = f" [{order.schedule.label}]" if order.schedule.controlled else ""
        lines.append(f"{number:>2}. {order.medication}{schedule}{held}")
        lines.append(f"    {order.sig}")
        until = f" until {order.end_date:%Y-%m-%d}" if order.end_date else ""
        refills = f"{order.refills} refill{'s' if order.refills != 1 else ''}"
        prescriber = order.prescriber.display_name if order.prescriber else "?"
        lines.append(
            f"    since {order.start_date:%Y-%m-%d}{until}; quantity {domain.format_decimal(order.quantity)}, {refills}; prescribed by {prescriber}"
        )
        if order.instructions:
            lines.append(f"    Instructions: {' '.join(order.instructions.split())}")
    lines.append("")
    if allergies is None:
        lines.append("Allergies: not shown (the reader's role does not include allergies).")
    elif allergies:
        described = [
            f"{allergy.substance} ({allergy.severity.label.lower()}{': ' + allergy.reaction if allergy.reaction else ''})"
            for allergy in allergies
        ]
        lines.append("Allergies: " + "; ".join(described))
    else:
        lines.append("Allergies: none recorded.")
    return lines
