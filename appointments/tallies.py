"""Daily counts of visits, late cancellations and no-shows, kept so that a trend costs the same at any size.

Counting twelve weeks of a clinic's appointments reads every one of them: 1,920 rows in a
clinic of four clinicians, 192,000 in one of four hundred (726 ms on the benchmark's database).
A past day's counts rarely change, so each is counted once and kept in `DayTally`; the trend
reads at most 84 small rows plus the appointments of today and the rest of this week, which
are always counted live.

Freshness: saving or deleting an appointment deletes the tallies of its day (before and after
a move), in its transaction and again after it commits; a tally counted while such a change
was committing could miss it, so a tally is also recounted once it is `FRESH_FOR` old.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from appointments import domain, models, policy

FRESH_FOR = dt.timedelta(hours=1)
Status = domain.Status
COUNTED = (Status.COMPLETED.value, Status.CANCELLED.value, Status.NO_SHOW.value)


@dataclasses.dataclass(frozen=True)
class Counts:
    """One day's (or week's) visits, late cancellations and no-shows."""

    visits: int = 0
    late_cancellations: int = 0
    no_shows: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.visits + other.visits,
            self.late_cancellations + other.late_cancellations,
            self.no_shows + other.no_shows,
        )


def _zone_name(zone) -> str:
    return str(zone)


def count_days(appointments, first: dt.date, last: dt.date, zone) -> dict[dt.date, Counts]:
    """Return {day: Counts} of `appointments` (a queryset) due to start from `first` to `last` inclusive, in one query."""
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min), zone)
    end = timezone.make_aware(dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min), zone)
    rows = (
        appointments.filter(start__gte=start, start__lt=end, status__in=COUNTED)
        .annotate(day=TruncDate("start", tzinfo=zone))
        .values("day")
        .annotate(
            visits=Count("pk", filter=Q(status=Status.COMPLETED.value)),
            late_cancellations=Count("pk", filter=Q(status=Status.CANCELLED.value, late_cancellation=True)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW.value)),
        )
        .order_by("day")
    )
    return {
        row["day"]: Counts(row["visits"], row["late_cancellations"], row["no_shows"])
        for row in rows
        if row["day"] is not None
    }


def clinic_days(
    first: dt.date, last: dt.date, *, today: dt.date, now: dt.datetime | None = None
) -> dict[dt.date, Counts]:
    """Return {day: Counts} of every appointment of the clinic from `first` to `last`, days before `today` from the tallies.

    Two queries when every past day is tallied (the tallies, and today onwards counted live);
    two more (count the missing days, store them) when some are not.
    """
    zone = policy.zone()
    name = _zone_name(zone)
    now = now or timezone.now()
    counts: dict[dt.date, Counts] = {}
    past_last = min(last, today - dt.timedelta(days=1))
    if first <= past_last:
        kept = models.DayTally.objects.filter(
            zone=name, day__gte=first, day__lte=past_last, computed_at__gt=now - FRESH_FOR
        ).values_list("day", "visits", "late_cancellations", "no_shows")
        tallied = {day: Counts(v, lc, ns) for day, v, lc, ns in kept}
        missing = [first + dt.timedelta(days=n) for n in range((past_last - first).days + 1)]
        missing = [day for day in missing if day not in tallied]
        if missing:
            counted = count_days(models.Appointment.objects.all(), missing[0], missing[-1], zone)
            fresh = {day: counted.get(day, Counts()) for day in missing}
            _store(fresh, name, now)
            tallied.update(fresh)
        counts.update(tallied)
    if last >= today:
        counts.update(count_days(models.Appointment.objects.all(), max(first, today), last, zone))
    return counts


def _store(counts: dict[dt.date, Counts], zone_name: str, now: dt.datetime) -> None:
    """Replace the tallies of the days in `counts`."""
    with transaction.atomic():
        models.DayTally.objects.filter(zone=zone_name, day__in=list(counts)).delete()
        models.DayTally.objects.bulk_create(
            [
                models.DayTally(
                    day=day,
                    zone=zone_name,
                    visits=c.visits,
                    late_cancellations=c.late_cancellations,
                    no_shows=c.no_shows,
                    computed_at=now,
                )
                for day, c in counts.items()
            ],
            ignore_conflicts=True,
        )


def forget(*starts: dt.datetime | None) -> None:
    """Delete the tallies of the days of `starts` (in every time zone's count), now and after the commit."""
    days = set()
    for start in starts:
        if start is not None:
            # The day in any zone lies within a day either side of the UTC date.
            utc_day = start.astimezone(dt.UTC).date() if timezone.is_aware(start) else start.date()
            days.update(utc_day + dt.timedelta(days=offset) for offset in (-1, 0, 1))
    if not days:
        return

    def delete():
        models.DayTally.objects.filter(day__in=sorted(days)).delete()

    delete()
    transaction.on_commit(delete)
