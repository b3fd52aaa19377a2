"""Sign one or more of the actor's own draft notes."""

from django.core.management.base import BaseCommand, CommandError

from clinical_notes import services
from clinical_notes.management.commands import _common
from novamind.domain import DomainError, RuleViolation


class Command(BaseCommand):
    help = (
        "Sign draft clinical notes as their author. A signed note is final: it can only be "
        "corrected by an addendum. Each note is signed on its own; the command exits with status "
        "1 if any could not be signed (someone else's note, an empty section, already signed, a "
        "patient not on the --actor's care team or a role that may not change notes)."
    )

    def add_arguments(self, parser):
        _common.add_actor_argument(parser)
        parser.add_argument("note_ids", nargs="+", metavar="NOTE_ID", help="Id of a draft to sign.")

    def handle(self, *args, actor, note_ids, **options):
        user = _common.actor(actor)
        failures = 0
        for value in note_ids:
            try:
                note = services.note_sign(note_id=_common.note_id(value), actor=user)
            except RuleViolation as violation:
                failures += 1
                self.stderr.write(f"{value}: not signed.\n{_common.describe(violation)}")
                continue
            except (DomainError, CommandError) as error:
                failures += 1
                self.stderr.write(f"{value}: not signed. {error}")
                continue
            late = " (late entry)" if note.late_entry else ""
            self.stdout.write(f"{value}: signed{late}.")
        if failures:
            raise CommandError(f"{failures} of {len(note_ids)} note(s) were not signed.")
