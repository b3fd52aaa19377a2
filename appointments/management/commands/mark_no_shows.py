"""Mark as no-shows the scheduled appointments nobody checked in, once their grace period is over."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from appointments import domain, policy, services
from novamind.commands import active_staff
from novamind.domain import AccessDenied, RuleViolation
from patients import models as patient_models


class Command(BaseCommand):
    help = (
        "Mark as no-shows the appointments still 'scheduled' (never checked in or cancelled) whose "
        "end passed more than the grace period ago (NOVAMIND_NO_SHOW_GRACE_MINUTES, 60 by default). "
        "Each change is attributed to --actor and kept in the appointment's history. With --dry-run, "
        "list them and change nothing. Safe to run from cron: an appointment checked in meanwhile "
        "is skipped and reported. The output names appointments by id and MRN only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--actor", required=True, metavar="USERNAME", help="The staff user the changes are attributed to."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List the appointments that would be marked; change nothing."
        )
        parser.add_argument(
            "--grace-minutes",
            type=int,
            metavar="MINUTES",
            help="Override the grace period after an appointment's end (default: NOVAMIND_NO_SHOW_GRACE_MINUTES).",
        )

    def handle(self, *args, actor, dry_run, grace_minutes, **options):
        user = active_staff(actor)
        if grace_minutes is not None and grace_minutes < 0:
            raise CommandError("--grace-minutes cannot be negative.")
        grace = dt.timedelta(minutes=grace_minutes) if grace_minutes is not None else policy.no_show_grace()
        try:
            run = services.appointments_mark_no_shows(actor=user, grace=grace, dry_run=dry_run)
        except AccessDenied as error:
            raise CommandError(str(error)) from None
        except RuleViolation as violation:
            raise CommandError(" ".join(m for ms in violation.errors.values() for m in ms)) from None
        mrns = mrn_of({a.patient_id for a in run.due})
        listed = run.due if dry_run else run.marked
        verb = "Would mark" if dry_run else "Marked"
        for appointment in listed:
            self.stdout.write(f"  {describe(appointment, mrns)}")
        for appointment, reason in run.skipped:
            self.stderr.write(f"  skipped {describe(appointment, mrns)}: {reason}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {len(listed)} appointment(s) as no-show (grace {int(grace.total_seconds() // 60)} min)"
                + (f"; {len(run.skipped)} skipped because they changed meanwhile." if run.skipped else ".")
            )
        )


def mrn_of(patient_ids) -> dict:
    """Return each patient's MRN by id."""
    return dict(patient_models.Patient.objects.filter(pk__in=patient_ids).values_list("pk", "mrn"))


def describe(appointment: domain.Appointment, mrns: dict) -> str:
    """Return "appointment 1a2b3c4d, Tue 3 Mar 2026, 10:00–10:50, NM12345674" (no PHI)."""
    return f"{domain.label(appointment.id)}, {domain.span(appointment, policy.zone())}, {mrns.get(appointment.patient_id, '?')}"
