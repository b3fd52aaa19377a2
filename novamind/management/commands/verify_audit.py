"""Check the access log's HMAC chain: exits non-zero if any entry was altered, removed or moved."""

from django.core.management.base import BaseCommand, CommandError

from novamind import access


class Command(BaseCommand):
    help = (
        "Verify the tamper-evident access log: recompute every entry's HMAC (AUDIT_LOG_KEY) over "
        "its content and its predecessor's digest, and report each entry that was changed, "
        "deleted or reordered. Exits with status 1 when the chain is broken."
    )

    def handle(self, *args, **options):
        result = access.verify()
        if result.ok:
            self.stdout.write(self.style.SUCCESS(f"Access log intact: {result.checked} entries verified."))
            return
        for problem in result.problems:
            self.stderr.write(problem)
        raise CommandError(f"Access log broken: {len(result.problems)} problem(s) in {result.checked} entries.")
