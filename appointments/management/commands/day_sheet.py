"""Print a clinician's day sheet: every appointment of one day, in order, for the desk or the door."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from appointments import domain, policy, repository, schedule
from novamind.commands import active_staff
from novamind.domain import AccessDenied


def iso_date(value: str) -> dt.date:
    """Return the date `value` names (YYYY-MM-DD), or raise CommandError."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r} is not a date; use YYYY-MM-DD, e.g. 2026-03-03.") from None
    problem = domain.start_error(day, today=policy.today())
    if problem:
        raise CommandError(f"--date {value}: {problem}")
    return day


class Command(BaseCommand):
    help = (
        "Print the day sheet of one clinician for one day (today by default): time, patient name and "
        "MRN, kind, room or telehealth and status of every appointment, cancelled ones listed apart. "
        "The output contains PHI; printing it is recorded in the access log under --actor."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clinician", required=True, metavar="USERNAME", help="The clinician whose day to print.")
        parser.add_argument(
            "--date", metavar="YYYY-MM-DD", help="The day to print (default: today, in the clinic's time zone)."
        )
        parser.add_argument(
            "--actor",
            required=True,
            metavar="USERNAME",
            help="The staff user printing the sheet (recorded in the access log); it lists only their patients if they are in a care role.",
        )

    def handle(self, *args, clinician, date, actor, **options):
        reader = active_staff(actor)
        day = iso_date(date) if date else timezone.localdate()
        user = repository.bookable_clinicians().filter(username=clinician).first()
        if user is None:
            raise CommandError(
                f"--clinician {clinician!r} is not an active clinician (a user with a clinician staff profile)."
            )
        try:
            # The same rule as the admin's day sheet: only the patients --actor may see.
            sheet = schedule.day_sheet(clinician=user, day=day, reader=reader, action="print day sheet")
        except AccessDenied as error:
            raise CommandError(str(error)) from None
        self.stdout.write(schedule.format_text(sheet), ending="")
