"""The clinic dashboard on the admin index: what a practice manager looks at every morning.

Three panels, each a plain function returning dataclasses: today's schedule per clinician, the
unsigned notes that are already late per clinician, and twelve weeks of visits, late
cancellations and no-shows. Each panel costs a fixed number of queries whatever the size of the
clinic: rows are grouped and counted in the database (weeks in the clinic's time zone), and no
encrypted column is read, filtered or ordered on. Patients appear by MRN only, and a panel that
lists them writes one entry to the access log, as an admin list does.

Every panel counts and lists only the patients the viewer may see (`patients.policy.restrict`, a
subquery, so no query per row): a clinician sees their own patients' appointments and notes, and
every link on the page opens (a colleague's appointment would answer 404).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.conf import settings
from django.contrib.auth import get_permission_codename, get_user_model
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber, TruncWeek
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from appointments import domain as appointments_domain
from appointments import models as appointments_models
from appointments import policy, repository, schedule
from clinic import chart
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes import services as notes_services
from novamind import access
from patients import policy as access_policy

TREND_WEEKS = 12
# Clinicians per page of today's schedule: the panel's size does not grow with the clinic.
SCHEDULE_CLINICIANS_SHOWN = 20
SCHEDULE_PAGE_PARAMETER = "schedule"
# The oldest drafts listed per author; the panel counts the rest (a page, not a report).
LATE_NOTES_SHOWN = 5
ACCESS_ACTION = "dashboard"
Status = appointments_domain.Status


# --- today's schedule ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScheduleItem:
    """One appointment on today's schedule, as the index shows it: no name, no reason."""

    appointment_id: object
    start: dt.datetime  # local time
    end: dt.datetime
    kind: appointments_domain.Kind
    status: Status
    late_cancellation: bool
    mrn: str

    @property
    def holds_time(self) -> bool:
        """Return whether the appointment still occupies the clinician (scheduled, checked in, completed)."""
        return self.status.holds_time

    @property
    def status_text(self) -> str:
        """Return the status as staff read it ("Cancelled (late)")."""
        return self.status.label + (" (late)" if self.late_cancellation else "")


@dataclasses.dataclass(frozen=True)
class ClinicianDay:
    """One clinician's appointments today, in order of start."""

    clinician_id: int
    clinician: str
    items: tuple[ScheduleItem, ...]

    @property
    def booked(self) -> int:
        """Return how many appointments hold the clinician's time."""
        return sum(item.holds_time for item in self.items)

    @property
    def completed(self) -> int:
        """Return how many visits are already completed."""
        return sum(item.status is Status.COMPLETED for item in self.items)

    @property
    def released(self) -> int:
        """Return how many were cancelled, missed or rescheduled."""
        return sum(not item.holds_time for item in self.items)


@dataclasses.dataclass(frozen=True)
class TodaySchedule:
    """Every active clinician's day (those without appointments too) and any other clinician booked today."""

    day: dt.date
    clinicians: tuple[ClinicianDay, ...]  # this page's, in order of name
    page: int = 1
    pages: int = 1
    clinician_total: int = 0  # on every page

    @property
    def appointment_count(self) -> int:
        """Return how many appointments this page lists."""
        return sum(len(day.items) for day in self.clinicians)

    @property
    def first_shown(self) -> int:
        """Return the place, among all the day's clinicians, of this page's first one (from 1)."""
        return (self.page - 1) * SCHEDULE_CLINICIANS_SHOWN + 1 if self.clinicians else 0

    @property
    def last_shown(self) -> int:
        """Return the place of this page's last clinician."""
        return self.first_shown + len(self.clinicians) - 1 if self.clinicians else 0


def todays_schedule(*, viewer, day: dt.date | None = None, page: int = 1) -> TodaySchedule:
    """Return one page of the clinicians' days on `day` (today, clinic time), with the appointments `viewer` may see, in two queries.

    The clinicians (every bookable one, and anyone else with an appointment the viewer may see
    that day) are ordered by name and shown SCHEDULE_CLINICIANS_SHOWN a page; only the page's
    appointments are read.
    """
    day = day or timezone.localdate(timezone.now(), policy.zone())
    start, end = repository.day_bounds(day)
    zone = policy.zone()
    visible = access_policy.restrict(
        appointments_models.Appointment.objects.filter(start__gte=start, start__lt=end), viewer
    )
    bookable = repository.bookable_clinicians().values("pk")
    labels = _staff_labels(Q(pk__in=visible.order_by().values("clinician_id")) | Q(pk__in=bookable))
    ordered = sorted(labels.items(), key=lambda item: (item[1].casefold(), item[0]))
    pages = max(1, -(-len(ordered) // SCHEDULE_CLINICIANS_SHOWN))
    page = min(max(page, 1), pages)
    shown = dict(ordered[(page - 1) * SCHEDULE_CLINICIANS_SHOWN : page * SCHEDULE_CLINICIANS_SHOWN])
    rows = (
        visible.filter(clinician_id__in=list(shown))
        .order_by("start", "pk")
        .values_list("pk", "clinician_id", "start", "end", "kind", "status", "late_cancellation", "patient__mrn")
    )
    items: dict[int, list[ScheduleItem]] = {}
    for pk, clinician_id, starts, ends, kind, status, late, mrn in rows:
        items.setdefault(clinician_id, []).append(
            ScheduleItem(
                appointment_id=pk,
                start=timezone.localtime(starts, zone),
                end=timezone.localtime(ends, zone),
                kind=appointments_domain.Kind(kind),
                status=Status(status),
                late_cancellation=late,
                mrn=mrn,
            )
        )
    days = [
        ClinicianDay(clinician_id=pk, clinician=label, items=tuple(items.get(pk, ()))) for pk, label in shown.items()
    ]
    return TodaySchedule(day=day, clinicians=tuple(days), page=page, pages=pages, clinician_total=len(ordered))


# --- unsigned notes -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LateNote:
    """An unsigned note that would be a late entry if it were signed today; no text, no name."""

    note_id: object
    mrn: str
    date_of_service: dt.date
    kind: notes_domain.NoteKind
    days_since_service: int


@dataclasses.dataclass(frozen=True)
class AuthorLateNotes:
    """One author's late unsigned notes, oldest first."""

    author_id: int
    author: str
    notes: tuple[LateNote, ...]  # the oldest LATE_NOTES_SHOWN
    waiting: int = 0  # all of the author's late drafts the viewer may see

    @property
    def not_shown(self) -> int:
        """Return how many of the author's late drafts are counted but not listed."""
        return self.waiting - len(self.notes)

    @property
    def oldest(self) -> LateNote:
        """Return the note waiting longest."""
        return self.notes[0]


@dataclasses.dataclass(frozen=True)
class LateNotes:
    """Unsigned notes whose date of service is more than `older_than_days` days past, per author."""

    older_than_days: int
    authors: tuple[AuthorLateNotes, ...]

    @property
    def note_count(self) -> int:
        """Return how many notes are listed."""
        return sum(len(author.notes) for author in self.authors)


def late_entry_cutoff(today: dt.date, late_entry_days: int) -> dt.date:
    """Return the first date of service whose draft is not yet late on `today`.

    A note signed more than `late_entry_days` after its date of service is a late entry
    (`clinical_notes.domain.is_late_entry`); so a draft dated before this cutoff would be one if
    it were signed today.
    """
    return today - dt.timedelta(days=late_entry_days)


def late_unsigned_notes(*, viewer, today: dt.date | None = None, older_than_days: int | None = None) -> LateNotes:
    """Return the drafts older than NOVAMIND_LATE_ENTRY_DAYS that `viewer` may see, per author, in two queries.

    Psychotherapy notes are listable only by their author, so another author's psychotherapy
    drafts are left out (as `drafts_for_author` does); the viewer's own are listed.
    """
    today = today or timezone.localdate(timezone.now(), policy.zone())
    days = settings.NOVAMIND_LATE_ENTRY_DAYS if older_than_days is None else older_than_days
    drafts = notes_models.ClinicalNote.objects.filter(
        status=notes_domain.NoteStatus.DRAFT.value, date_of_service__lt=late_entry_cutoff(today, days)
    )
    rows = (
        access_policy.restrict(drafts, viewer)
        .filter(~Q(kind=notes_models.PSYCHOTHERAPY) | Q(author_id=viewer.pk))
        # Each author's oldest few, and how many they have, in the same query: the panel's
        # size does not grow with the backlog.
        .annotate(
            place=Window(RowNumber(), partition_by=F("author_id"), order_by=(F("date_of_service"), F("pk"))),
            waiting=Window(Count("pk"), partition_by=F("author_id")),
        )
        .filter(place__lte=LATE_NOTES_SHOWN)
        .order_by("date_of_service", "pk")
        .values_list("pk", "author_id", "date_of_service", "kind", "patient__mrn", "waiting")
    )
    notes: dict[int, list[LateNote]] = {}
    waiting: dict[int, int] = {}
    for pk, author_id, date_of_service, kind, mrn, count in rows:
        waiting[author_id] = count
        notes.setdefault(author_id, []).append(
            LateNote(
                note_id=pk,
                mrn=mrn,
                date_of_service=date_of_service,
                kind=notes_domain.NoteKind(kind),
                days_since_service=(today - date_of_service).days,
            )
        )
    labels = _staff_labels(Q(pk__in=list(notes))) if notes else {}
    authors = [
        AuthorLateNotes(
            author_id=pk, author=labels.get(pk, f"user {pk}"), notes=tuple(author_notes), waiting=waiting[pk]
        )
        for pk, author_notes in notes.items()
    ]
    # The author with the most waiting notes first, then the one waiting longest.
    authors.sort(key=lambda a: (-a.waiting, a.oldest.date_of_service, a.author.casefold()))
    return LateNotes(older_than_days=days, authors=tuple(authors))


# --- twelve weeks -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Trend:
    """Weekly counts, oldest week first, and the chart that draws them."""

    weeks: tuple[chart.WeekCounts, ...]

    @property
    def title(self) -> str:
        """Return the chart's title."""
        return chart.title_for(self.weeks)

    @property
    def summary(self) -> str:
        """Return the totals in one sentence."""
        return chart.describe(self.weeks)

    @property
    def svg(self) -> SafeString:
        """Return the chart as inline SVG, safe to put in the page as it is."""
        # render_svg escapes every piece of text it writes, and its only inputs are dates and counts.
        return mark_safe(chart.render_svg(self.weeks))


def week_start(day: dt.date) -> dt.date:
    """Return the Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def weekly_trend(*, viewer, weeks: int = TREND_WEEKS, today: dt.date | None = None) -> Trend:
    """Return `weeks` weeks of visits, late cancellations and no-shows of the patients `viewer` may see, in one query.

    An appointment counts in the week (Monday to Sunday, clinic time) in which it was due to
    start: a completed one as a visit, a cancellation flagged late, a no-show. The current week is
    counted so far.
    """
    if weeks < 1:
        raise ValueError("Show at least one week.")
    zone = policy.zone()
    today = today or timezone.localdate(timezone.now(), zone)
    this_week = week_start(today)
    first = this_week - dt.timedelta(weeks=weeks - 1)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min), zone)
    end = timezone.make_aware(dt.datetime.combine(this_week + dt.timedelta(weeks=1), dt.time.min), zone)
    counted = (Status.COMPLETED.value, Status.CANCELLED.value, Status.NO_SHOW.value)
    due = appointments_models.Appointment.objects.filter(start__gte=start, start__lt=end, status__in=counted)
    rows = (
        access_policy.restrict(due, viewer)
        .annotate(week=TruncWeek("start", tzinfo=zone))
        .values("week")
        .annotate(
            visits=Count("pk", filter=Q(status=Status.COMPLETED.value)),
            late_cancellations=Count("pk", filter=Q(status=Status.CANCELLED.value, late_cancellation=True)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW.value)),
        )
        .order_by("week")
    )
    by_week = {_as_date(row["week"], zone): row for row in rows}
    result = []
    for offset in range(weeks):
        monday = first + dt.timedelta(weeks=offset)
        row = by_week.get(monday, {})
        result.append(
            chart.WeekCounts(
                week_start=monday,
                visits=row.get("visits", 0),
                late_cancellations=row.get("late_cancellations", 0),
                no_shows=row.get("no_shows", 0),
                to_date=monday == this_week,
            )
        )
    return Trend(weeks=tuple(result))


# --- the whole dashboard, for one viewer --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dashboard:
    """The panels `viewer` may see; a panel they may not see is None."""

    today: dt.date
    schedule: TodaySchedule | None
    late_notes: LateNotes | None
    trend: Trend | None

    @property
    def is_empty(self) -> bool:
        """Return whether the viewer may see no panel at all."""
        return self.schedule is None and self.late_notes is None and self.trend is None


def may_view(user, model) -> bool:
    """Return whether `user` may view `model` in the admin (the view or the change permission)."""
    if not (user.is_active and user.is_staff):
        return False
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}") for action in ("view", "change")
    )


def for_user(user, *, request=None, now: dt.datetime | None = None) -> Dashboard:
    """Return the dashboard `user` may see, logging the patients' MRNs it lists as shown to them."""
    today = timezone.localdate(now or timezone.now(), policy.zone())
    sees_appointments = may_view(user, appointments_models.Appointment)
    sees_notes = may_view(user, notes_models.ClinicalNote)
    board = Dashboard(
        today=today,
        schedule=todays_schedule(viewer=user, day=today, page=_schedule_page(request)) if sees_appointments else None,
        late_notes=late_unsigned_notes(viewer=user, today=today) if sees_notes else None,
        trend=weekly_trend(viewer=user, today=today) if sees_appointments else None,
    )
    _log_listing(user, request, board)
    return board


def _schedule_page(request) -> int:
    """Return the page of today's schedule the index asks for (?schedule=N; the first otherwise)."""
    asked = request.GET.get(SCHEDULE_PAGE_PARAMETER, "") if request is not None else ""
    return int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 6 else 1


def _log_listing(user, request, board: Dashboard) -> None:
    """Write one access-log entry per panel that listed patients (by MRN), as an admin list does."""
    if board.schedule is not None and board.schedule.appointment_count:
        access.record(
            user=user,
            action=ACCESS_ACTION,
            category=schedule.ACCESS_CATEGORY,
            request=request,
            detail=f"today's schedule ({board.today.isoformat()}): {board.schedule.appointment_count} appointment(s) by MRN",
        )
    if board.late_notes is not None and board.late_notes.note_count:
        listed = [note for author in board.late_notes.authors for note in author.notes]
        own_psychotherapy = sum(note.kind is notes_domain.NoteKind.PSYCHOTHERAPY_NOTE for note in listed)
        if len(listed) > own_psychotherapy:
            access.record(
                user=user,
                action=ACCESS_ACTION,
                category=notes_services.CLINICAL_CATEGORY,
                request=request,
                detail=f"{len(listed) - own_psychotherapy} late unsigned note(s) listed by MRN, without their text",
            )
        if own_psychotherapy:
            access.record(
                user=user,
                action=ACCESS_ACTION,
                category=notes_services.PSYCHOTHERAPY_CATEGORY,
                request=request,
                detail=f"{own_psychotherapy} of their own late unsigned psychotherapy note(s) listed by MRN",
            )


def _staff_labels(condition: Q) -> dict[int, str]:
    """Return {user id: "Dana Lee, MD"} for the users matching `condition`, in one query."""
    users = (
        get_user_model()
        .objects.filter(condition)
        .select_related("staff_profile")
        .only("pk", "username", "first_name", "last_name", "staff_profile__credentials")
    )
    return {user.pk: schedule.clinician_label(user) for user in users}


def _as_date(value, zone) -> dt.date:
    """Return the local date of a truncated week (a date, or an aware or naive datetime)."""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value, zone).date() if timezone.is_aware(value) else value.date()
    return value
