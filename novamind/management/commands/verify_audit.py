"""Verify the audit trail (every chain, against every checkpoint) and checkpoint it: exit 1 if anything is wrong."""

from django.core.management.base import BaseCommand, CommandError

from novamind import audit_trail


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident audit trail: walk every registered chain (the access log, and any "
        "other that registered), recomputing each entry's HMAC (AUDIT_LOG_KEY) over its content and its "
        "predecessor's digest, then compare every chain with every signed checkpoint in "
        "NOVAMIND_AUDIT_CHECKPOINT_DIR, so an emptied, trimmed or rewound chain is found. When all is "
        "intact, write a new checkpoint. Exits with status 1, listing each problem, otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-checkpoint",
            action="store_true",
            help="Verify and compare with the checkpoints, but write none (e.g. an auditor's read-only run).",
        )

    def handle(self, *args, no_checkpoint=False, **options):
        result = audit_trail.verify(checkpoint=not no_checkpoint)
        for label, checked in result.checked.items():
            self.stdout.write(f"{label}: {checked} entries verified.")
        compared = f"compared with {result.compared} checkpoint{'s' if result.compared != 1 else ''}"
        if result.ok:
            written = f"; checkpoint {result.written} written" if result.written else "; no checkpoint written"
            self.stdout.write(
                self.style.SUCCESS(f"Audit trail intact: {len(result.checked)} chain(s) verified, {compared}{written}.")
            )
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(
            f"Audit trail broken: {len(result.problems)} problem(s) in {len(result.checked)} chain(s), {compared}; "
            "no checkpoint written."
        )
