"""Purge the records of former patients whose retention period has run out (clinic.retention)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from clinic import retention
from novamind import dbroles, encryption
from novamind.commands import active_staff, add_actor_argument, describe
from novamind.domain import DomainError, RuleViolation


class Command(BaseCommand):
    help = (
        "Delete the whole record (demographics, appointments, notes with addenda, medication orders, "
        "allergies, and all their history rows) of inactive and deceased patients that has had no "
        "activity for longer than NOVAMIND_RETENTION_YEARS (10 by default, never under HIPAA's 6), "
        "counted at the earliest from the patient's 18th birthday. Records under a legal hold and "
        "anything younger are never purged. Each patient is one transaction and leaves a tombstone "
        "(MRN and row counts) in the access log, attributed to --actor, who needs the "
        "patients.purge_patient permission (superusers have it; no role grants it). With --dry-run, "
        "list what would go and write nothing. The output names patients by MRN only."
    )

    def add_arguments(self, parser):
        add_actor_argument(parser, help_text="The staff user who purges (required; named in every tombstone).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the records that would be purged (MRN and row counts); write nothing.",
        )
        parser.add_argument(
            "--patient",
            action="append",
            metavar="MRN",
            default=[],
            help="Purge only this patient (repeatable). A named record that is not due is refused, and then nothing is purged.",
        )

    def handle(self, *args, actor, dry_run, patient, **options):
        user = active_staff(actor, permissions=(retention.PURGE_PERMISSION,))
        try:
            policy = retention.Policy.from_settings()
        except RuleViolation as violation:
            raise CommandError(describe(violation)) from None
        uncovered = retention.uncovered_references()
        if uncovered:
            raise CommandError(
                "Nothing was purged: these tables refer to patient records and the purge does not handle them: "
                + "; ".join(uncovered)
                + "."
            )

        if not dry_run:
            try:
                retention.require_owner_rights()
            except dbroles.OwnerRightsRequired as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            f"Retention period {policy.years} years: records of inactive and deceased patients with no "
            f"activity since before {policy.cutoff.isoformat()} are due (for a patient seen as a minor, "
            f"the period starts at their 18th birthday)."
        )
        patients = self.named(patient, policy) if patient else retention.candidates(policy)
        purged, kept, failed = [], [], []
        for row in patients:
            try:
                review = retention.review(row, policy)
                if not review.decision.due:
                    kept.append(review)
                elif dry_run:
                    counts = retention.count_record(row.pk)
                    purged.append(counts)
                    self.stdout.write(f"  would purge {row.mrn}: {counts.describe()}")
                else:
                    done = retention.purge_patient(patient_id=row.pk, policy=policy, actor=user)
                    purged.append(done.counts)
                    self.stdout.write(f"  purged {done.mrn}: {done.counts.describe()} (tombstone #{done.tombstone})")
            except retention.NotDue as refusal:  # changed since it was reviewed: a hold, a visit
                kept.append(retention.Review(row.pk, row.mrn, refusal.decision))
            except (DatabaseError, encryption.DecryptionError, DomainError) as error:
                failed.append(f"{row.mrn}: {reason_of(error)}")
                self.stderr.write(f"  not purged {row.mrn}: {reason_of(error)}")
        self.report(purged, kept, dry_run)
        if failed:
            raise CommandError(
                f"{len(failed)} record(s) could not be purged (nothing of them was deleted): " + "; ".join(failed)
            )

    def named(self, mrns, policy):
        """Return the patients named with --patient; refuse the run if any is unknown or not due."""
        patients, problems = [], []
        for mrn in dict.fromkeys(m.strip().upper() for m in mrns):
            patient = retention.find_patient(mrn)
            if patient is None:
                problems.append(f"{mrn}: no patient has this MRN")
                continue
            try:
                decision = retention.review(patient, policy).decision
            except encryption.DecryptionError as error:
                problems.append(f"{mrn}: {reason_of(error)}")
                continue
            if not decision.due:
                problems.append(f"{mrn}: {decision.reason}")
            patients.append(patient)
        if problems:
            raise CommandError("--patient: nothing was purged. " + "; ".join(problems) + ".")
        return patients

    def report(self, purged, kept, dry_run):
        held = [review.mrn for review in kept if review.decision.held]
        if held:
            self.stdout.write(f"Kept under a legal hold: {', '.join(held)}.")
        younger = len(kept) - len(held)
        if younger:
            self.stdout.write(f"Kept {younger} record(s) with activity inside the retention period.")
        rows = sum(sum(counts.rows.values()) for counts in purged)
        history = sum(counts.history for counts in purged)
        if dry_run:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Dry run: would purge {len(purged)} record(s) ({rows} rows, {history} history rows); nothing was written."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Purged {len(purged)} record(s) ({rows} rows, {history} history rows); each left a tombstone in the access log."
                )
            )


def reason_of(error: Exception) -> str:
    """Return a one-line reason for a failed purge, without PHI (database messages name ids only)."""
    if isinstance(error, encryption.DecryptionError):
        return "part of the record does not decrypt with FIELD_ENCRYPTION_KEY"
    if isinstance(error, DatabaseError):
        return (
            f"rows elsewhere still refer to this record or the database refused the delete ({error.__class__.__name__})"
        )
    return str(error)
