"""Recompute the content hash of every signed note and addendum; exit non-zero on any mismatch."""

from django.core.management.base import BaseCommand, CommandError

from clinical_notes import services
from clinical_notes.management.commands import _common
from novamind.domain import AccessDenied


class Command(BaseCommand):
    help = (
        "Verify that no signed clinical note or addendum was changed behind NovaMind: decrypt each "
        "one, recompute the SHA-256 of its content (sections, kind, format, date of service, patient, "
        "author) and compare it with the hash taken at signing. Reports every mismatch by note id and "
        "patient MRN (never by content) and exits with status 1 if there is any. The run is recorded "
        "in the access log in the --actor's name, since it decrypts every note. Who may run it: an "
        "Auditor (every note), or a user with the view permission on clinical notes; a clinician "
        "(care-restricted) checks only the notes of the patients on their care team. Other actors are "
        "refused."
    )

    def add_arguments(self, parser):
        _common.add_actor_argument(parser)

    def handle(self, *args, actor, **options):
        try:
            result = services.verify_integrity(actor=_common.actor(actor))
        except AccessDenied as error:
            raise CommandError(str(error)) from None
        checked = f"{result.notes_checked} signed notes and {result.addenda_checked} addenda"
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"All {checked} match the hash taken when they were signed."))
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(
            f"{len(result.problems)} problem(s) in {checked}: the records above were changed "
            f"outside NovaMind. Report them to the privacy officer."
        )
