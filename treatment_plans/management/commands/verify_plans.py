"""Recompute the content hash of every signed treatment plan; exit non-zero on any mismatch."""

from django.core.management.base import BaseCommand, CommandError

from novamind.commands import active_staff, add_actor_argument
from novamind.domain import AccessDenied
from treatment_plans import services


class Command(BaseCommand):
    help = (
        "Verify that no signed treatment plan was changed behind NovaMind: decrypt each plan signed so far "
        "(current, superseded or discontinued) with its diagnoses, goals, objectives and interventions, "
        "recompute the SHA-256 of its content and compare it with the hash taken at signing. Reports every "
        "mismatch by plan id and patient MRN (never by content) and exits with status 1 if there is any. The "
        "run is recorded in the access log in the --actor's name. Who may run it: an Auditor (every plan), or "
        "a user with the view permission on treatment plans; a clinician (care-restricted) checks only the "
        "plans of the patients on their care team."
    )

    def add_arguments(self, parser):
        add_actor_argument(parser)

    def handle(self, *args, actor, **options):
        try:
            result = services.verify_integrity(actor=active_staff(actor))
        except AccessDenied as error:
            raise CommandError(str(error)) from None
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"All {result.plans_checked} signed plans match the hash taken when they were signed."
                )
            )
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(
            f"{len(result.problems)} problem(s) in {result.plans_checked} signed plans: the plans above were "
            f"changed outside NovaMind. Report them to the privacy officer."
        )
