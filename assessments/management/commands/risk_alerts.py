"""List the risk answers waiting for review (all, or those overdue), for the care team or for cron."""

import datetime as dt

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from assessments import selectors, services
from novamind import access
from novamind.commands import active_staff, add_actor_argument
from patients import models as patients_models


class Command(BaseCommand):
    help = (
        "List the safety alerts (a risk answer, such as PHQ-9 item 9 above 0) that no clinician of the "
        "patient's care team has reviewed yet, the longest waiting first: the patient's MRN, when it was "
        "raised, how many hours it has waited and the care team to chase. With --overdue, only those "
        "waiting longer than NOVAMIND_RISK_REVIEW_HOURS (24 by default), and nothing at all is printed when "
        "none is, so a cron job mails only when there is something to do. No answer or score is printed. "
        "The --actor needs the view permission on risk answer alerts; a clinician (care-restricted) sees "
        "only their patients'. A listing is recorded in the access log."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--overdue",
            action="store_true",
            help="Only the alerts not reviewed within NOVAMIND_RISK_REVIEW_HOURS of being raised.",
        )
        add_actor_argument(parser)

    def handle(self, *args, overdue, actor, **options):
        user = active_staff(actor, permissions=(services.VIEW_ALERT,))
        now = timezone.now()
        hours = settings.NOVAMIND_RISK_REVIEW_HOURS
        rows = selectors.open_alerts(user, raised_before=now - dt.timedelta(hours=hours) if overdue else None)
        alerts = selectors.waiting(rows)
        if not alerts:
            if not overdue:
                self.stdout.write("No risk answer is waiting for review.")
            return
        teams: dict[object, list[str]] = {}
        assignments = patients_models.CareAssignment.objects.filter(
            patient_id__in={alert.patient_id for alert in alerts}, ended_at=None
        ).order_by("started_at")
        for patient_id, username in assignments.values_list("patient_id", "clinician__username"):
            teams.setdefault(patient_id, []).append(username)
        which = f"overdue (not reviewed within {hours} hours)" if overdue else "waiting for review"
        self.stdout.write(f"{len(alerts)} risk answer(s) {which}:")
        for alert in alerts:
            team = ", ".join(teams.get(alert.patient_id, [])) or "NOBODY: assign a clinician"
            self.stdout.write(
                f"  {alert.mrn}  raised {timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M}  "
                f"waiting {alert.hours_waiting(now)} h  care team: {team}  alert {alert.alert_id}"
            )
        access.record(
            user=user,
            action="list",
            category=services.CATEGORY,
            detail=f"risk_alerts: {len(alerts)} open alert(s) {'overdue' if overdue else 'listed'}, by MRN",
        )
