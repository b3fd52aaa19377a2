"""Add a signed addendum to a signed note."""

from django.core.management.base import BaseCommand, CommandError

from clinical_notes import services
from clinical_notes.management.commands import _common
from novamind.domain import DomainError, RuleViolation


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = (
        "Add an addendum to a signed clinical note: its text and its reason are read from files "
        "('-' reads standard input for one of them). The addendum is signed in the --actor's name "
        "when it is added and can never be changed. Drafts take no addenda: edit them instead. The "
        "--actor needs what the admin asks: the role to add addenda and the patient on their care team."
    )

    def add_arguments(self, parser):
        _common.add_actor_argument(parser)
        parser.add_argument("note_id", metavar="NOTE_ID", help="Id of the signed note.")
        parser.add_argument("--text-file", required=True, metavar="PATH", help="File holding the addendum.")
        parser.add_argument(
            "--reason-file", required=True, metavar="PATH", help="File holding why the addendum is needed."
        )

    def handle(self, *args, actor, note_id, text_file, reason_file, stdin=None, **options):
        if text_file == "-" and reason_file == "-":
            raise CommandError("Only one of --text-file and --reason-file can read standard input.")
        user = _common.actor(actor)
        identity = _common.note_id(note_id)
        text = _common.read_text(text_file, "addendum text", stdin)
        reason = _common.read_text(reason_file, "reason", stdin)
        try:
            addendum = services.addendum_add(note_id=identity, text=text, reason=reason, actor=user)
        except RuleViolation as violation:
            raise CommandError(f"No addendum was added.\n{_common.describe(violation)}") from None
        except DomainError as error:
            raise CommandError(f"No addendum was added. {error}") from None
        self.stdout.write(self.style.SUCCESS(f"Addendum {addendum.id} added to note {note_id} and signed."))
