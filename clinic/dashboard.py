"""The clinic dashboard on the admin index: what a practice manager looks at every morning.

Three panels, each a plain function returning dataclasses: today's schedule per clinician, the
unsigned notes that are already late per clinician, and twelve weeks of visits, late
cancellations and no-shows. Each panel costs a fixed number of queries whatever the size of the
clinic: rows are grouped and counted in the database (weeks in the clinic's time zone), and no
encrypted column is read, filtered or ordered on. Patients appear by MRN only, and a panel that
lists them writes one entry to the access log, as an admin list does. The treatment plans due for
review (`plans_due_for_review`) are listed the same way, per clinician who signed them.

Every panel counts and lists only the patients the viewer may see (`patients.policy.restrict`, a
subquery, so no query per row): a clinician sees their own patients' appointments and notes, and
every link on the page opens (a colleague's appointment would answer 404).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.paginator import Paginator
from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, Concat, Lower, NullIf, RowNumber, Trim
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from appointments import domain as appointments_domain
from appointments import models as appointments_models
from appointments import policy, repository, schedule, tallies
from assessments import domain as assessments_domain
from assessments import selectors as assessments_selectors
from clinic import chart
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from clinical_notes import selectors as notes_selectors
from clinical_notes import services as notes_services
from novamind import access, db_router
from novamind.domain import parse_count
from patients import display
from patients import domain as patients_domain
from patients import models as patients_models
from patients import policy as access_policy
from treatment_plans import models as plans_models

TREND_WEEKS = 12
# Clinicians per page of today's schedule: the panel's size does not grow with the clinic.
SCHEDULE_CLINICIANS_SHOWN = 20
SCHEDULE_PAGE_PARAMETER = "schedule"
# The oldest drafts listed per author; the panel counts the rest (a page, not a report).
LATE_NOTES_SHOWN = 5
# Authors per page of that panel, the one waiting longest first (?late=N).
LATE_AUTHORS_SHOWN = 10
LATE_PAGE_PARAMETER = "late"
# Treatment plans due for review: those due within this many days, or overdue, per clinician.
REVIEW_SOON_DAYS = 14
REVIEW_PLANS_SHOWN = 5  # per clinician, the most overdue first
REVIEW_CLINICIANS_SHOWN = 10
REVIEW_PAGE_PARAMETER = "reviews"
PLANS_CATEGORY = "treatment_plans"
# Risk answers awaiting review, the longest waiting first, a page at a time (?risk=N).
RISK_SHOWN = 10
RISK_PAGE_PARAMETER = "risk"
# Measures due: clinicians a page (?due=N), and each one's patients listed (the most overdue first).
DUE_CLINICIANS_SHOWN = 10
DUE_PATIENTS_SHOWN = 5
DUE_PAGE_PARAMETER = "due"
VIEW_RESPONSES = "assessments.view_response"
VIEW_ALERTS = "assessments.view_safetyalert"
ACCESS_ACTION = "dashboard"
COSIGN_PERMISSION = "clinical_notes.cosign_clinicalnote"
ASSESSMENTS_CATEGORY = "assessments"
Status = appointments_domain.Status


# --- a page of a panel --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class Paged:
    """One page of a panel's entries and where it stands among them all ("Clinicians 11–20 of 34").

    Each paged panel names the tuple it pages in `entries`: its clinicians, authors or answers.
    """

    entries: ClassVar[str]
    page: int = 1
    pages: int = 1
    per_page: int = 1

    @property
    def first_shown(self) -> int:
        """Return the place, among them all, of this page's first entry (from 1; 0 on an empty page)."""
        return (self.page - 1) * self.per_page + 1 if getattr(self, self.entries) else 0

    @property
    def last_shown(self) -> int:
        """Return the place of this page's last entry."""
        shown = len(getattr(self, self.entries))
        return self.first_shown + shown - 1 if shown else 0


@dataclasses.dataclass(frozen=True)
class _People:
    """One page of the people a panel lists its rows under (clinicians, authors), in the panel's order."""

    labels: dict[int, str]  # {user id: "Dana Lee, MD"}, the page's people in order
    total: int  # of every page
    place: dict[str, int]  # the `Paged` fields of the panel: page, pages, per_page


def _page_of_people(people, per_page: int, number: int) -> _People:
    """Return page `number` of `people`, `per_page` a page (past the end: the last), in two queries at most.

    `people` is either users in the order of their labels (`_by_label`: counted and paged in the
    database, so a page reads its own users, not every clinician of the clinic) or a list of user
    ids in the panel's own order (the page's labels are then read in one query).
    """
    paged = Paginator(people, per_page).get_page(number)
    if isinstance(people, list):
        ids = list(paged)
        labels = _labels(_by_label(Q(pk__in=ids))) if ids else {}
        labels = {pk: labels[pk] for pk in ids}
    else:
        labels = _labels(paged)
    place = {"page": paged.number, "pages": paged.paginator.num_pages, "per_page": per_page}
    return _People(labels=labels, total=paged.paginator.count, place=place)


def _per_person(rows, people) -> dict[int, list[tuple]]:
    """Return `rows` (tuples, a person's id first) as each person's list of the rest, for every one of `people`."""
    grouped: dict[int, list[tuple]] = {pk: [] for pk in people}
    for person, *rest in rows:
        grouped[person].append(tuple(rest))
    return grouped


def _people_by_first_row(rows, *, by: str, order: str) -> list[int]:
    """Return the ids of the people `rows` are under (the field `by`), the one whose first row by `order` comes first.

    One query, grouped in the database: as many people as the rows name, not a row each.
    """
    firsts = rows.order_by().values(by).annotate(first=Min(order)).order_by("first", by)
    return list(firsts.values_list(by, flat=True))


def _first_per_person(rows, *, by: str, order: str, people: _People, limit: int, fields: tuple[str, ...]):
    """Return the page's people's first `limit` `rows` each (by `order`, then pk) as `fields`, and how many each has.

    Both in one query (window functions), so a page costs the same however many rows it lists.
    """
    ranked = (
        rows.filter(**{f"{by}__in": list(people.labels)})
        .annotate(
            place=Window(RowNumber(), partition_by=F(by), order_by=(F(order), F("pk"))),
            how_many=Window(Count("pk"), partition_by=F(by)),
        )
        .filter(place__lte=limit)
        .order_by(order, "pk")
        .values_list(by, "how_many", *fields)
    )
    firsts = _per_person(ranked, people.labels)
    counts = {pk: found[0][0] if found else 0 for pk, found in firsts.items()}
    return {pk: [row[1:] for row in found] for pk, found in firsts.items()}, counts


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
    patient_id: object = None
    label: display.PatientLabel | None = None  # set by `for_user`: the name, where the viewer may see it

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
class TodaySchedule(Paged):
    """Every active clinician's day (those without appointments too) and any other clinician booked today."""

    entries = "clinicians"
    day: dt.date
    clinicians: tuple[ClinicianDay, ...]  # this page's, in order of name
    clinician_total: int = 0  # on every page

    @property
    def appointment_count(self) -> int:
        """Return how many appointments this page lists."""
        return sum(len(day.items) for day in self.clinicians)


def todays_schedule(*, viewer, day: dt.date | None = None, page: int = 1) -> TodaySchedule:
    """Return one page of the clinicians' days on `day` (today, clinic time), with the appointments `viewer` may see, in three queries.

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
    clinicians = get_user_model().objects.filter(
        Q(pk__in=visible.order_by().values("clinician_id")) | Q(pk__in=bookable)
    )
    people = _page_of_people(_by_label(clinicians), SCHEDULE_CLINICIANS_SHOWN, page)
    rows = (
        visible.filter(clinician_id__in=list(people.labels))
        .order_by("start", "pk")
        .values_list(
            "clinician_id", "pk", "start", "end", "kind", "status", "late_cancellation", "patient__mrn", "patient_id"
        )
    )
    appointments = _per_person(rows, people.labels)
    days = tuple(
        ClinicianDay(
            clinician_id=clinician_id,
            clinician=label,
            items=tuple(
                ScheduleItem(
                    appointment_id=pk,
                    start=timezone.localtime(starts, zone),
                    end=timezone.localtime(ends, zone),
                    kind=appointments_domain.Kind(kind),
                    status=Status(status),
                    late_cancellation=late,
                    mrn=mrn,
                    patient_id=patient_id,
                )
                for pk, starts, ends, kind, status, late, mrn, patient_id in appointments[clinician_id]
            ),
        )
        for clinician_id, label in people.labels.items()
    )
    return TodaySchedule(day=day, clinicians=days, clinician_total=people.total, **people.place)


# --- unsigned notes -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LateNote:
    """An unsigned note that would be a late entry if it were signed today; no text, no name."""

    note_id: object
    mrn: str
    date_of_service: dt.date
    kind: notes_domain.NoteKind
    days_since_service: int
    patient_id: object = None
    label: display.PatientLabel | None = None


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
class LateNotes(Paged):
    """Unsigned notes whose date of service is more than `older_than_days` days past, per author."""

    entries = "authors"
    older_than_days: int
    authors: tuple[AuthorLateNotes, ...]  # this page's, the author waiting longest first
    author_total: int = 0  # on every page

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


def late_unsigned_notes(
    *, viewer, today: dt.date | None = None, older_than_days: int | None = None, page: int = 1
) -> LateNotes:
    """Return one page of the authors with drafts older than the late-entry days that `viewer` may see, in three queries.

    Authors are ordered by their oldest late draft (waiting longest first) and shown
    LATE_AUTHORS_SHOWN a page, each with their oldest LATE_NOTES_SHOWN drafts and how many they
    have. Psychotherapy notes are listable only by their author, so another author's
    psychotherapy drafts are left out (as `drafts_for_author` does); the viewer's own are listed.
    """
    today = today or timezone.localdate(timezone.now(), policy.zone())
    days = settings.NOVAMIND_LATE_ENTRY_DAYS if older_than_days is None else older_than_days
    drafts = notes_models.ClinicalNote.objects.filter(
        status=notes_domain.NoteStatus.DRAFT.value, date_of_service__lt=late_entry_cutoff(today, days)
    )
    visible = access_policy.restrict(drafts, viewer).filter(
        ~Q(kind=notes_models.PSYCHOTHERAPY) | Q(author_id=viewer.pk)
    )
    if access_policy.is_restricted(viewer):
        # A care-restricted viewer's authors are those of their caseload's late drafts: grouped in
        # one query joined from the caseload's side, as many as the caseload holds.
        ordered = _people_by_first_row(visible, by="author_id", order="date_of_service")
    else:
        # Anyone else's are the staff, each probed on the drafts-by-author index for their oldest
        # late draft: the work follows the staff, not every late draft of the clinic.
        oldest_first = visible.filter(author_id=OuterRef("pk")).order_by("date_of_service", "pk")
        ordered = list(
            get_user_model()
            .objects.annotate(oldest=Subquery(oldest_first.values("date_of_service")[:1]))
            .filter(oldest__isnull=False)
            .order_by("oldest", "pk")
            .values_list("pk", flat=True)
        )
    people = _page_of_people(ordered, LATE_AUTHORS_SHOWN, page)
    notes, waiting = _first_per_person(
        visible,
        by="author_id",
        order="date_of_service",
        people=people,
        limit=LATE_NOTES_SHOWN,
        fields=_LATE_NOTE_FIELDS,
    )
    authors = tuple(
        AuthorLateNotes(
            author_id=author_id,
            author=label,
            notes=tuple(_late_note(today, *row) for row in notes[author_id]),
            waiting=waiting[author_id],
        )
        for author_id, label in people.labels.items()
        if notes[author_id]  # a draft signed between the two queries
    )
    return LateNotes(older_than_days=days, authors=authors, author_total=people.total, **people.place)


_LATE_NOTE_FIELDS = ("pk", "date_of_service", "kind", "patient__mrn", "patient_id")


def _late_note(today: dt.date, pk, date_of_service: dt.date, kind: str, mrn: str, patient_id) -> LateNote:
    """Return a draft's row (`_LATE_NOTE_FIELDS`) as a LateNote, its days since service counted to `today`."""
    return LateNote(
        note_id=pk,
        mrn=mrn,
        date_of_service=date_of_service,
        kind=notes_domain.NoteKind(kind),
        days_since_service=(today - date_of_service).days,
        patient_id=patient_id,
    )


# --- treatment plans due for review ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlanDue:
    """A current treatment plan due for review soon, or overdue; no content, no name."""

    plan_id: object
    mrn: str
    version_number: int
    review_due: dt.date
    days_left: int  # negative once overdue
    patient_id: object = None
    label: display.PatientLabel | None = None

    @property
    def overdue(self) -> bool:
        """Return whether the review date has passed."""
        return self.days_left < 0

    @property
    def days_overdue(self) -> int:
        """Return how many days past its review date the plan is (0 until then)."""
        return max(0, -self.days_left)


@dataclasses.dataclass(frozen=True)
class ClinicianReviews:
    """The plans one clinician signed that are due for review, the most overdue first."""

    clinician_id: int
    clinician: str
    plans: tuple[PlanDue, ...]  # the first REVIEW_PLANS_SHOWN
    due: int = 0  # all of theirs the viewer may see

    @property
    def not_shown(self) -> int:
        """Return how many of the clinician's plans are counted but not listed."""
        return self.due - len(self.plans)

    @property
    def overdue(self) -> int:
        """Return how many of the listed plans are overdue."""
        return sum(plan.overdue for plan in self.plans)


@dataclasses.dataclass(frozen=True)
class PlanReviews(Paged):
    """Current plans due for review within `within_days` days or overdue, per clinician who signed them."""

    entries = "clinicians"
    within_days: int
    clinicians: tuple[ClinicianReviews, ...]  # this page's, the clinician with the most overdue plan first
    clinician_total: int = 0

    @property
    def plan_count(self) -> int:
        """Return how many plans are listed."""
        return sum(len(clinician.plans) for clinician in self.clinicians)


def plans_due_for_review(
    *, viewer, today: dt.date | None = None, within_days: int = REVIEW_SOON_DAYS, page: int = 1
) -> PlanReviews:
    """Return one page of the clinicians whose current plans `viewer` may see are due for review, in three queries.

    A plan is due when its review date is at most `within_days` days away, or past. Clinicians
    (who signed the plans) are ordered by their most overdue plan and shown REVIEW_CLINICIANS_SHOWN
    a page, each with their REVIEW_PLANS_SHOWN plans due first and how many they have. The plans
    are read from the review queue's index (current plans only, by review date).
    """
    today = today or timezone.localdate(timezone.now(), policy.zone())
    due = plans_models.TreatmentPlan.objects.filter(
        status=plans_models.SIGNED, review_due__lte=today + dt.timedelta(days=within_days)
    )
    visible = access_policy.restrict(due, viewer)
    ordered = _people_by_first_row(visible, by="signed_by_id", order="review_due")
    people = _page_of_people(ordered, REVIEW_CLINICIANS_SHOWN, page)
    fields = ("pk", "review_due", "version_number", "patient__mrn", "patient_id")
    plans, due = _first_per_person(
        visible, by="signed_by_id", order="review_due", people=people, limit=REVIEW_PLANS_SHOWN, fields=fields
    )
    clinicians = tuple(
        ClinicianReviews(
            clinician_id=clinician_id,
            clinician=label,
            plans=tuple(
                PlanDue(
                    plan_id=pk,
                    mrn=mrn,
                    version_number=version,
                    review_due=review_due,
                    days_left=(review_due - today).days,
                    patient_id=patient_id,
                )
                for pk, review_due, version, mrn, patient_id in plans[clinician_id]
            ),
            due=due[clinician_id],
        )
        for clinician_id, label in people.labels.items()
        if plans[clinician_id]  # a plan revised between the two queries
    )
    return PlanReviews(within_days=within_days, clinicians=clinicians, clinician_total=people.total, **people.place)


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
    """Return `weeks` weeks of visits, late cancellations and no-shows of the patients `viewer` may see.

    An appointment counts in the week (Monday to Sunday, clinic time) in which it was due to
    start: a completed one as a visit, a cancellation flagged late, a no-show. The current week is
    counted so far. A care-restricted viewer's caseload is counted in one query; the whole
    clinic's past days come from their tallies (`appointments.tallies`), so a viewer who sees
    every patient costs two queries however large the clinic.
    """
    if weeks < 1:
        raise ValueError("Show at least one week.")
    zone = policy.zone()
    today = today or timezone.localdate(timezone.now(), zone)
    this_week = week_start(today)
    first = this_week - dt.timedelta(weeks=weeks - 1)
    last = this_week + dt.timedelta(days=6)
    if access_policy.is_restricted(viewer):
        # A caseload's appointments, counted live: as many as the caseload holds.
        visible = access_policy.restrict(appointments_models.Appointment.objects.all(), viewer)
        days = tallies.count_days(visible, first, last, zone)
    else:
        # The whole clinic's: past days from their kept tallies, the rest of this week live.
        days = tallies.clinic_days(first, last, today=today)
    result = []
    for offset in range(weeks):
        monday = first + dt.timedelta(weeks=offset)
        week = sum((days.get(monday + dt.timedelta(days=n), tallies.Counts()) for n in range(7)), tallies.Counts())
        result.append(
            chart.WeekCounts(
                week_start=monday,
                visits=week.visits,
                late_cancellations=week.late_cancellations,
                no_shows=week.no_shows,
                to_date=monday == this_week,
            )
        )
    return Trend(weeks=tuple(result))


# --- a clinician's own day ---------------------------------------------------------------------

MY_DRAFTS_SHOWN = 10
MY_ALERTS_SHOWN = 10
COSIGN_SHOWN = 10
ALERT_DAYS = 7  # how far back "alerts for my patients" look


@dataclasses.dataclass(frozen=True)
class MyAppointment:
    """One of the signed-in clinician's appointments today, with what they can do from the index."""

    appointment_id: object
    patient_id: object
    start: dt.datetime  # local time
    end: dt.datetime
    kind: appointments_domain.Kind
    status: Status
    version: int
    mrn: str
    label: display.PatientLabel | None = None

    @property
    def can_check_in(self) -> bool:
        """Return whether the visit is still to be checked in."""
        return self.status is Status.SCHEDULED

    @property
    def writes_note(self) -> bool:
        """Return whether a note may be written for it now (the visit was not cancelled or missed)."""
        return self.status.holds_time


@dataclasses.dataclass(frozen=True)
class MyDay:
    """The signed-in clinician's appointments today, in order of start."""

    day: dt.date
    appointments: tuple[MyAppointment, ...]


def my_day(*, user, day: dt.date) -> MyDay:
    """Return `user`'s own appointments on `day` whose patients they may see, in one query."""
    start, end = repository.day_bounds(day)
    zone = policy.zone()
    rows = (
        access_policy.restrict(
            appointments_models.Appointment.objects.filter(clinician=user, start__gte=start, start__lt=end), user
        )
        .order_by("start", "pk")
        .values_list("pk", "patient_id", "start", "end", "kind", "status", "version", "patient__mrn")
    )
    return MyDay(
        day=day,
        appointments=tuple(
            MyAppointment(
                appointment_id=pk,
                patient_id=patient_id,
                start=timezone.localtime(starts, zone),
                end=timezone.localtime(ends, zone),
                kind=appointments_domain.Kind(kind),
                status=Status(status),
                version=version,
                mrn=mrn,
            )
            for pk, patient_id, starts, ends, kind, status, version, mrn in rows
        ),
    )


@dataclasses.dataclass(frozen=True)
class MyDrafts:
    """The signed-in clinician's unsigned notes, oldest first, and how many there are."""

    notes: tuple[LateNote, ...]
    total: int
    late_entry_days: int

    @property
    def not_shown(self) -> int:
        """Return how many drafts are counted but not listed."""
        return self.total - len(self.notes)


def my_drafts(*, user, today: dt.date) -> MyDrafts:
    """Return `user`'s oldest MY_DRAFTS_SHOWN drafts that they may open, and their count, in one query."""
    drafts = notes_models.ClinicalNote.objects.filter(author=user, status=notes_domain.NoteStatus.DRAFT.value)
    rows = (
        access_policy.restrict(drafts, user)
        .annotate(total=Window(Count("pk")))
        .order_by("date_of_service", "pk")
        .values_list("total", *_LATE_NOTE_FIELDS)[:MY_DRAFTS_SHOWN]
    )
    notes, counts = [], [0]
    for count, *row in rows:
        counts.append(count)
        notes.append(_late_note(today, *row))
    return MyDrafts(notes=tuple(notes), total=counts[-1], late_entry_days=settings.NOVAMIND_LATE_ENTRY_DAYS)


@dataclasses.dataclass(frozen=True)
class PatientAlert:
    """Something that happened to one of the clinician's patients that they should know of."""

    at: dt.datetime
    patient_id: object
    mrn: str
    what: str
    label: display.PatientLabel | None = None


@dataclasses.dataclass(frozen=True)
class MyAlerts:
    """Alerts for the signed-in clinician's patients over the last ALERT_DAYS days, newest first."""

    alerts: tuple[PatientAlert, ...]
    days: int = ALERT_DAYS


def my_alerts(*, user, now: dt.datetime) -> MyAlerts:
    """Return the last ALERT_DAYS days' emergency accesses by others and missed visits of `user`'s patients, in two queries.

    "My patients" are those on whose care team `user` is (an emergency grant of their own does
    not make a patient theirs); each kind is read newest first, at most MY_ALERTS_SHOWN.
    """
    since = now - dt.timedelta(days=ALERT_DAYS)
    mine = patients_models.CareAssignment.objects.filter(clinician=user, ended_at=None).values("patient_id")
    grants = (
        patients_models.EmergencyAccessGrant.objects.filter(patient_id__in=mine, granted_at__gte=since)
        .exclude(user=user)
        .order_by("-granted_at")
        .values_list("granted_at", "patient_id", "patient__mrn", "user__username")[:MY_ALERTS_SHOWN]
    )
    missed = (
        appointments_models.Appointment.objects.filter(
            patient_id__in=mine, status=Status.NO_SHOW.value, start__gte=since, start__lt=now
        )
        .order_by("-start")
        .values_list("start", "patient_id", "patient__mrn")[:MY_ALERTS_SHOWN]
    )
    zone = policy.zone()
    alerts = [
        PatientAlert(at=at, patient_id=pid, mrn=mrn, what=f"Emergency access by {username}")
        for at, pid, mrn, username in grants
    ]
    alerts += [
        PatientAlert(
            at=at, patient_id=pid, mrn=mrn, what=f"Missed visit ({timezone.localtime(at, zone):%a %d %b %H:%M})"
        )
        for at, pid, mrn in missed
    ]
    alerts.sort(key=lambda alert: alert.at, reverse=True)
    return MyAlerts(alerts=tuple(alerts[:MY_ALERTS_SHOWN]))


def is_own_day_viewer(user) -> bool:
    """Return whether `user` gets the panels of their own day (a bookable clinician or a care role)."""
    profile = getattr(user, "staff_profile", None)
    return access_policy.is_restricted(user) or bool(profile is not None and profile.is_clinician)


# --- measurement-based care ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RiskAnswer:
    """A risk answer on a questionnaire of one of the viewer's patients, waiting for the care team's review."""

    alert_id: object
    patient_id: object
    mrn: str
    raised_at: dt.datetime
    hours_waiting: int
    overdue: bool
    label: display.PatientLabel | None = None


@dataclasses.dataclass(frozen=True)
class RiskAnswers(Paged):
    """The open risk answers of the viewer's patients (their care team), the longest waiting first, a page."""

    entries = "answers"
    answers: tuple[RiskAnswer, ...]
    total: int
    review_hours: int


def risk_answers(*, user, now: dt.datetime, page: int = 1) -> RiskAnswers:
    """Return one page of the open risk answers of the patients on `user`'s care team, in two queries.

    An emergency grant does not put a patient here: the review is the care team's. No encrypted
    column is read: the panel says whose answer waits and since when, never what it was.
    """
    hours = settings.NOVAMIND_RISK_REVIEW_HOURS
    rows = assessments_selectors.open_alerts(user, treated_only=True)
    paged = Paginator(rows, RISK_SHOWN).get_page(page)
    answers = tuple(
        RiskAnswer(
            alert_id=waiting.alert_id,
            patient_id=waiting.patient_id,
            mrn=waiting.mrn,
            raised_at=waiting.raised_at,
            hours_waiting=waiting.hours_waiting(now),
            overdue=now - waiting.raised_at > dt.timedelta(hours=hours),
        )
        for waiting in assessments_selectors.waiting(paged.object_list)
    )
    return RiskAnswers(
        answers=answers,
        total=paged.paginator.count,
        review_hours=hours,
        page=paged.number,
        pages=paged.paginator.num_pages,
        per_page=RISK_SHOWN,
    )


@dataclasses.dataclass(frozen=True)
class DuePatient:
    """A patient of a clinician's caseload with measures due today or overdue."""

    patient_id: object
    mrn: str
    measures: tuple[assessments_domain.DueMeasure, ...]
    label: display.PatientLabel | None = None

    @property
    def due_since(self) -> dt.date:
        """Return the day the oldest of its measures fell due."""
        return min(measure.due_on for measure in self.measures)


@dataclasses.dataclass(frozen=True)
class ClinicianMeasures:
    """One clinician's patients with measures due, the longest overdue first."""

    clinician_id: int
    clinician: str
    patients: tuple[DuePatient, ...]  # the first DUE_PATIENTS_SHOWN
    waiting: int = 0  # how many of their patients have a measure due

    @property
    def not_shown(self) -> int:
        """Return how many are counted but not listed."""
        return self.waiting - len(self.patients)


@dataclasses.dataclass(frozen=True)
class MeasuresDue(Paged):
    """Measures due today or overdue, per clinician of the patients' care teams, a page of clinicians."""

    entries = "clinicians"
    day: dt.date
    clinicians: tuple[ClinicianMeasures, ...]
    clinician_total: int = 0

    @property
    def patient_count(self) -> int:
        """Return how many patients this page lists."""
        return sum(len(clinician.patients) for clinician in self.clinicians)


def measures_due(*, viewer, today: dt.date, page: int = 1) -> MeasuresDue:
    """Return one page of clinicians, each with their patients (care) whose measures are due today or overdue.

    A care-restricted viewer gets their own caseload; a viewer who sees every patient gets every
    clinician with a caseload, DUE_CLINICIANS_SHOWN a page in order of name. Which measure is due
    follows the patient's current diagnoses (`assessments.domain.SCHEDULES`), whose codes are
    encrypted: they are read for the page's caseloads and decided in Python. Five queries,
    whatever the size of the caseloads (the page of clinicians and its count, their care
    assignments, the patients' current diagnoses, the dates of their last measures).
    """
    open_care = patients_models.CareAssignment.objects.filter(
        ended_at=None, patient__status=patients_domain.PatientStatus.ACTIVE.value
    )
    if access_policy.is_restricted(viewer):
        clinicians = get_user_model().objects.filter(pk=viewer.pk)
    else:
        clinicians = get_user_model().objects.filter(pk__in=open_care.order_by().values("clinician_id"))
    people = _page_of_people(_by_label(clinicians), DUE_CLINICIANS_SHOWN, page)
    rows = open_care.filter(clinician_id__in=list(people.labels))
    caseloads = _per_person(rows.values_list("clinician_id", "patient_id", "patient__mrn"), people.labels)
    due = assessments_selectors.due_for_patients(
        {patient_id for caseload in caseloads.values() for patient_id, _ in caseload}, today=today
    )
    listed = []
    for pk, label in people.labels.items():
        patients = sorted(
            (
                DuePatient(patient_id=patient_id, mrn=mrn, measures=tuple(due[patient_id]))
                for patient_id, mrn in caseloads[pk]
                if patient_id in due
            ),
            key=lambda patient: (patient.due_since, patient.mrn),
        )
        listed.append(
            ClinicianMeasures(
                clinician_id=pk, clinician=label, patients=tuple(patients[:DUE_PATIENTS_SHOWN]), waiting=len(patients)
            )
        )
    return MeasuresDue(day=today, clinicians=tuple(listed), clinician_total=people.total, **people.place)


# --- the whole dashboard, for one viewer --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dashboard:
    """The panels `viewer` may see; a panel they may not see is None."""

    today: dt.date
    schedule: TodaySchedule | None
    late_notes: LateNotes | None
    trend: Trend | None
    my_day: MyDay | None = None
    my_drafts: MyDrafts | None = None
    cosignatures: notes_selectors.CosignatureQueue | None = None
    alerts: MyAlerts | None = None
    plan_reviews: PlanReviews | None = None
    risk_answers: RiskAnswers | None = None
    measures_due: MeasuresDue | None = None

    @property
    def is_empty(self) -> bool:
        """Return whether the viewer may see no panel at all."""
        panels = (self.schedule, self.late_notes, self.trend, self.my_day, self.my_drafts, self.cosignatures)
        return all(
            panel is None for panel in (*panels, self.alerts, self.plan_reviews, self.risk_answers, self.measures_due)
        )


def may_view(user, model) -> bool:
    """Return whether `user` may view `model` in the admin (the view or the change permission)."""
    if not (user.is_active and user.is_staff):
        return False
    opts = model._meta
    return any(
        user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}") for action in ("view", "change")
    )


def for_user(user, *, request=None, now: dt.datetime | None = None) -> Dashboard:
    """Return the dashboard `user` may see, logging the patients it lists as shown to them.

    Everyone who may see appointments gets the twelve weeks. A clinician (bookable, or in a care
    role) gets their own day: my appointments today, my drafts, notes waiting for my co-signature,
    alerts for my patients and the risk answers of my patients awaiting review. The clinic's
    schedule and every author's late drafts are for the roles that see every patient (the front
    desk, managers): a care-restricted user is not shown their colleagues' days. Everyone who may
    see treatment plans gets the plans due for review, of the patients they may see; whoever may
    see questionnaire responses gets the measures due: their own caseload's, or every clinician's.
    """
    # The panels are read on the replica when there is one (a moment behind the primary at most);
    # the access-log entries are written on the primary, after every read.
    with db_router.reporting_reads():
        now = now or timezone.now()
        today = timezone.localdate(now, policy.zone())
        sees_appointments = may_view(user, appointments_models.Appointment)
        sees_notes = may_view(user, notes_models.ClinicalNote)
        sees_plans = may_view(user, plans_models.TreatmentPlan)
        restricted = access_policy.is_restricted(user)
        own = is_own_day_viewer(user)
        board = Dashboard(
            today=today,
            schedule=todays_schedule(viewer=user, day=today, page=_page(request, SCHEDULE_PAGE_PARAMETER))
            if sees_appointments and not restricted
            else None,
            late_notes=late_unsigned_notes(viewer=user, today=today, page=_page(request, LATE_PAGE_PARAMETER))
            if sees_notes and not restricted
            else None,
            trend=weekly_trend(viewer=user, today=today) if sees_appointments else None,
            my_day=my_day(user=user, day=today) if own and sees_appointments else None,
            my_drafts=my_drafts(user=user, today=today) if own and sees_notes else None,
            cosignatures=notes_selectors.notes_awaiting_cosignature(supervisor=user, limit=COSIGN_SHOWN)
            if sees_notes and user.has_perm(COSIGN_PERMISSION)
            else None,
            alerts=my_alerts(user=user, now=now) if own and sees_appointments else None,
            plan_reviews=plans_due_for_review(viewer=user, today=today, page=_page(request, REVIEW_PAGE_PARAMETER))
            if sees_plans
            else None,
            risk_answers=risk_answers(user=user, now=now, page=_page(request, RISK_PAGE_PARAMETER))
            if own and user.has_perm(VIEW_ALERTS)
            else None,
            measures_due=measures_due(viewer=user, today=today, page=_page(request, DUE_PAGE_PARAMETER))
            if user.has_perm(VIEW_RESPONSES)
            else None,
        )
        board = _named(board, user)
    _log_listing(user, request, board)
    return board


# The panels that list patients: the board's field, the field of its people (None: a panel of the
# viewer's own) and the field of each one's rows.
_LISTINGS = (
    ("schedule", "clinicians", "items"),
    ("late_notes", "authors", "notes"),
    ("plan_reviews", "clinicians", "plans"),
    ("measures_due", "clinicians", "patients"),
    ("my_day", None, "appointments"),
    ("my_drafts", None, "notes"),
    ("alerts", None, "alerts"),
    ("risk_answers", None, "answers"),
)


def _named(board: Dashboard, user) -> Dashboard:
    """Return `board` with each listed patient's label: the name where `user` may see it, else the MRN.

    One batch for every panel (`patients.display.labels_for`, at most two queries), so naming
    the patients costs the same however many the panels list.
    """
    listed = [(name, people, rows) for name, people, rows in _LISTINGS if getattr(board, name)]

    def lists(name, people, rows):
        panel = getattr(board, name)
        return [getattr(panel, rows)] if people is None else [getattr(one, rows) for one in getattr(panel, people)]

    items = [item for listing in listed for rows in lists(*listing) for item in rows]
    labels = display.labels_for(user, {item.patient_id for item in items if item.patient_id is not None})
    if not labels:
        return board

    def each(holder, rows):
        named = tuple(dataclasses.replace(item, label=labels.get(item.patient_id)) for item in getattr(holder, rows))
        return dataclasses.replace(holder, **{rows: named})

    changes = {}
    for name, people, rows in listed:
        panel = getattr(board, name)
        if people is None:
            changes[name] = each(panel, rows)
        else:
            changes[name] = dataclasses.replace(
                panel, **{people: tuple(each(one, rows) for one in getattr(panel, people))}
            )
    return dataclasses.replace(board, **changes)


def _page(request, parameter: str) -> int:
    """Return the page of a panel the index asks for (?schedule=N, ?late=N, ?reviews=N; the first otherwise)."""
    asked = request.GET.get(parameter, "") if request is not None else ""
    number = parse_count(asked) if len(asked) < 6 else None
    return number or 1


def _log_listing(user, request, board: Dashboard) -> None:
    """Write one access-log entry per kind of record the panels listed patients for, as an admin list does."""

    def record(category: str, detail: str) -> None:
        access.record(user=user, action=ACCESS_ACTION, category=category, request=request, detail=detail)

    visits = len(board.my_day.appointments) if board.my_day else 0
    alerts = len(board.alerts.alerts) if board.alerts else 0
    if visits or alerts:
        record(
            schedule.ACCESS_CATEGORY,
            f"my day ({board.today.isoformat()}): {visits} appointment(s), {alerts} alert(s) for my patients",
        )
    if board.schedule is not None and board.schedule.appointment_count:
        record(
            schedule.ACCESS_CATEGORY,
            f"today's schedule ({board.today.isoformat()}): {board.schedule.appointment_count} appointment(s)",
        )
    late = [note for author in board.late_notes.authors for note in author.notes] if board.late_notes else []
    drafts = list(board.my_drafts.notes) if board.my_drafts else []
    awaiting = len(board.cosignatures.notes) if board.cosignatures else 0
    # Only the viewer's own psychotherapy drafts are ever listed; they are logged as such.
    own_psychotherapy = sum(note.kind is notes_domain.NoteKind.PSYCHOTHERAPY_NOTE for note in late + drafts)
    general = len(late) + len(drafts) - own_psychotherapy
    if general or awaiting:
        record(
            notes_services.CLINICAL_CATEGORY,
            f"{general} unsigned note(s) and {awaiting} note(s) awaiting my co-signature listed, without their text",
        )
    if own_psychotherapy:
        record(
            notes_services.PSYCHOTHERAPY_CATEGORY,
            f"{own_psychotherapy} of their own unsigned psychotherapy note(s) listed, without their text",
        )
    reviews = board.plan_reviews.plan_count if board.plan_reviews else 0
    if reviews:
        record(PLANS_CATEGORY, f"{reviews} treatment plan(s) due for review listed, without their content")
    risks = len(board.risk_answers.answers) if board.risk_answers else 0
    due = board.measures_due.patient_count if board.measures_due else 0
    if risks or due:
        record(
            ASSESSMENTS_CATEGORY,
            f"{risks} risk answer(s) awaiting review and {due} patient(s) with measures due listed, without answers or scores",
        )


def _by_label(users):
    """Return `users` (a condition or a queryset) in order of their labels, reading only what a label needs.

    The database sorts on the label's name part (the full name, or the username when none is on
    file), as `schedule.clinician_label` writes it, so a page of them can be read alone.
    """
    if isinstance(users, Q):
        users = get_user_model().objects.filter(users)
    full_name = Trim(Concat(F("first_name"), Value(" "), F("last_name")))
    return (
        users.annotate(sort_name=Lower(Coalesce(NullIf(full_name, Value("")), F("username"))))
        .order_by("sort_name", "pk")
        .select_related("staff_profile")
        .only("pk", "username", "first_name", "last_name", "staff_profile__credentials")
    )


def _labels(users) -> dict[int, str]:
    """Return {user id: "Dana Lee, MD"} for `users`, in their order."""
    return {user.pk: schedule.clinician_label(user) for user in users}
