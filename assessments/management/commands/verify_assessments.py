"""Recompute the total and band of every questionnaire response; exit non-zero on any mismatch."""

from django.core.management.base import BaseCommand, CommandError

from assessments import services
from novamind.commands import active_staff, add_actor_argument, refusals


class Command(BaseCommand):
    help = (
        "Verify that no stored questionnaire score was changed behind NovaMind: decrypt each response, "
        "score its answers again by the instrument's published rules and compare the total and band with "
        "the stored ones. Reports every mismatch by response id and patient MRN (never by answer or score) "
        "and exits with status 1 if there is any. The run is recorded in the access log in the --actor's "
        "name, since it decrypts every response. Who may run it: a user with the view permission on "
        "questionnaire responses; a clinician (care-restricted) checks only their patients' responses."
    )

    def add_arguments(self, parser):
        add_actor_argument(parser)

    def handle(self, *args, actor, **options):
        with refusals():
            result = services.responses_verify(actor=active_staff(actor))
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(f"All {result.checked} questionnaire responses match the scores their answers give.")
            )
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(
            f"{len(result.problems)} problem(s) in {result.checked} questionnaire responses: the responses above "
            f"were changed outside NovaMind. Report them to the privacy officer."
        )
