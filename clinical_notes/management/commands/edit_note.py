"""Replace one section of a draft note with the text of a file."""

import dataclasses

from django.core.management.base import BaseCommand, CommandError

from clinical_notes import domain, services
from clinical_notes.management.commands import _common
from novamind.domain import DomainError, RuleViolation


class Command(BaseCommand):
    stealth_options = ("stdin",)
    help = (
        "Replace one section of one of your draft notes with the text of a file (or standard input "
        "with '-'), e.g. a dictation. Only the author edits a draft; a signed note is never edited "
        "(add an addendum with add_addendum instead). Nothing is written when the edit is refused, "
        "and the --actor needs what the admin asks: the role to change notes and the patient on their care team."
    )

    def add_arguments(self, parser):
        _common.add_actor_argument(parser)
        parser.add_argument("note_id", metavar="NOTE_ID", help="Id of the draft.")
        parser.add_argument(
            "--section",
            required=True,
            choices=domain.SECTIONS,
            help="The section to replace (SOAP: subjective, objective, assessment, plan; "
            "DAP: data, assessment, plan; free text: body).",
        )
        parser.add_argument(
            "--text-file",
            required=True,
            metavar="PATH",
            help="File holding the new text ('-' reads standard input). Never pass clinical text on the command line.",
        )

    def handle(self, *args, actor, note_id, section, text_file, stdin=None, **options):
        user = _common.actor(actor)
        identity = _common.note_id(note_id)
        text = _common.read_text(text_file, "section text", stdin)
        try:
            note = services.note_read(note_id=identity, actor=user)
            changed = dataclasses.replace(note, sections=dataclasses.replace(note.sections, **{section: text}))
            services.note_update_draft(note=changed, actor=user)
        except RuleViolation as violation:
            raise CommandError(f"The note was not changed.\n{_common.describe(violation)}") from None
        except DomainError as error:
            raise CommandError(f"The note was not changed. {error}") from None
        self.stdout.write(self.style.SUCCESS(f"Section '{section}' of note {note_id} saved (still a draft)."))
