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
    # Counted and paged in the database, in the order of their labels: a page reads its own
    # SCHEDULE_CLINICIANS_SHOWN users, not every clinician of the clinic.
    paged = Paginator(_by_label(clinicians), SCHEDULE_CLINICIANS_SHOWN).get_page(page)
    shown = _labels(paged)
    rows = (
        visible.filter(clinician_id__in=list(shown))
        .order_by("start", "pk")
        .values_list(
            "pk", "clinician_id", "start", "end", "kind", "status", "late_cancellation", "patient__mrn", "patient_id"
        )
    )
    items: dict[int, list[ScheduleItem]] = {}
    for pk, clinician_id, starts, ends, kind, status, late, mrn, patient_id in rows:
        items.setdefault(clinician_id, []).append(
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
        )
    days = [
        ClinicianDay(clinician_id=pk, clinician=label, items=tuple(items.get(pk, ()))) for pk, label in shown.items()
    ]
    return TodaySchedule(
        day=day,
        clinicians=tuple(days),
        page=paged.number,
        pages=paged.paginator.num_pages,
        clinician_total=paged.paginator.count,
    )


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
class LateNotes:
    """Unsigned notes whose date of service is more than `older_than_days` days past, per author."""

    older_than_days: int
    authors: tuple[AuthorLateNotes, ...]  # this page's, the author waiting longest first
    page: int = 1
    pages: int = 1
    author_total: int = 0  # on every page

    @property
    def note_count(self) -> int:
        """Return how many notes are listed."""
        return sum(len(author.notes) for author in self.authors)

    @property
    def first_shown(self) -> int:
        """Return the place, among all authors with late drafts, of this page's first one (from 1)."""
        return (self.page - 1) * LATE_AUTHORS_SHOWN + 1 if self.authors else 0

    @property
    def last_shown(self) -> int:
        """Return the place of this page's last author."""
        return self.first_shown + len(self.authors) - 1 if self.authors else 0


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
        ordered = (
            visible.order_by()
            .values("author_id")
            .annotate(oldest=Min("date_of_service"))
            .order_by("oldest", "author_id")
        )
        ordered = list(ordered.values_list("author_id", flat=True))
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
    paged = Paginator(ordered, LATE_AUTHORS_SHOWN).get_page(page)
    shown = list(paged)
    labels = _labels(_by_label(Q(pk__in=shown))) if shown else {}
    rows = (
        visible.filter(author_id__in=shown)
        # Each author's oldest few, and how many they have, in the same query.
        .annotate(
            place=Window(RowNumber(), partition_by=F("author_id"), order_by=(F("date_of_service"), F("pk"))),
            waiting=Window(Count("pk"), partition_by=F("author_id")),
        )
        .filter(place__lte=LATE_NOTES_SHOWN)
        .order_by("date_of_service", "pk")
        .values_list("pk", "author_id", "date_of_service", "kind", "patient__mrn", "waiting", "patient_id")
    )
    notes: dict[int, list[LateNote]] = {pk: [] for pk in shown}
    waiting: dict[int, int] = {}
    for pk, author_id, date_of_service, kind, mrn, count, patient_id in rows:
        waiting[author_id] = count
        notes[author_id].append(
            LateNote(
                note_id=pk,
                mrn=mrn,
                date_of_service=date_of_service,
                kind=notes_domain.NoteKind(kind),
                days_since_service=(today - date_of_service).days,
                patient_id=patient_id,
            )
        )
    authors_shown = tuple(
        AuthorLateNotes(author_id=pk, author=labels[pk], notes=tuple(notes[pk]), waiting=waiting[pk])
        for pk in shown
        if notes[pk]  # a draft signed between the two queries
    )
    return LateNotes(
        older_than_days=days,
        authors=authors_shown,
        page=paged.number,
        pages=paged.paginator.num_pages,
        author_total=paged.paginator.count,
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
class PlanReviews:
    """Current plans due for review within `within_days` days or overdue, per clinician who signed them."""

    within_days: int
    clinicians: tuple[ClinicianReviews, ...]  # this page's, the clinician with the most overdue plan first
    page: int = 1
    pages: int = 1
    clinician_total: int = 0

    @property
    def plan_count(self) -> int:
        """Return how many plans are listed."""
        return sum(len(clinician.plans) for clinician in self.clinicians)

    @property
    def first_shown(self) -> int:
        """Return the place, among all the clinicians with plans due, of this page's first one (from 1)."""
        return (self.page - 1) * REVIEW_CLINICIANS_SHOWN + 1 if self.clinicians else 0

    @property
    def last_shown(self) -> int:
        """Return the place of this page's last clinician."""
        return self.first_shown + len(self.clinicians) - 1 if self.clinicians else 0


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
    ordered = list(
        visible.order_by()
        .values("signed_by_id")
        .annotate(first_due=Min("review_due"))
        .order_by("first_due", "signed_by_id")
        .values_list("signed_by_id", flat=True)
    )
    paged = Paginator(ordered, REVIEW_CLINICIANS_SHOWN).get_page(page)
    shown = list(paged)
    labels = _labels(_by_label(Q(pk__in=shown))) if shown else {}
    rows = (
        visible.filter(signed_by_id__in=shown)
        .annotate(
            place=Window(RowNumber(), partition_by=F("signed_by_id"), order_by=(F("review_due"), F("pk"))),
            due=Window(Count("pk"), partition_by=F("signed_by_id")),
        )
        .filter(place__lte=REVIEW_PLANS_SHOWN)
        .order_by("review_due", "pk")
        .values_list("pk", "signed_by_id", "review_due", "version_number", "patient__mrn", "patient_id", "due")
    )
    plans: dict[int, list[PlanDue]] = {pk: [] for pk in shown}
    counts: dict[int, int] = {}
    for pk, clinician_id, review_due, version, mrn, patient_id, count in rows:
        counts[clinician_id] = count
        plans[clinician_id].append(
            PlanDue(
                plan_id=pk,
                mrn=mrn,
                version_number=version,
                review_due=review_due,
                days_left=(review_due - today).days,
                patient_id=patient_id,
            )
        )
    clinicians = tuple(
        ClinicianReviews(clinician_id=pk, clinician=labels[pk], plans=tuple(plans[pk]), due=counts[pk])
        for pk in shown
        if plans[pk]  # a plan revised between the two queries
    )
    return PlanReviews(
        within_days=within_days,
        clinicians=clinicians,
        page=paged.number,
        pages=paged.paginator.num_pages,
        clinician_total=paged.paginator.count,
    )


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
        .values_list("pk", "date_of_service", "kind", "patient__mrn", "total", "patient_id")[:MY_DRAFTS_SHOWN]
    )
    notes, counts = [], [0]
    for pk, date_of_service, kind, mrn, count, patient_id in rows:
        counts.append(count)
        notes.append(
            LateNote(
                note_id=pk,
                mrn=mrn,
                date_of_service=date_of_service,
                kind=notes_domain.NoteKind(kind),
                days_since_service=(today - date_of_service).days,
                patient_id=patient_id,
            )
        )
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
class RiskAnswers:
    """The open risk answers of the viewer's patients (their care team), the longest waiting first, a page."""

    answers: tuple[RiskAnswer, ...]
    total: int
    review_hours: int
    page: int = 1
    pages: int = 1

    @property
    def first_shown(self) -> int:
        """Return the place of this page's first answer among them all (from 1)."""
        return (self.page - 1) * RISK_SHOWN + 1 if self.answers else 0

    @property
    def last_shown(self) -> int:
        """Return the place of this page's last answer."""
        return self.first_shown + len(self.answers) - 1 if self.answers else 0


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
class MeasuresDue:
    """Measures due today or overdue, per clinician of the patients' care teams, a page of clinicians."""

    day: dt.date
    clinicians: tuple[ClinicianMeasures, ...]
    page: int = 1
    pages: int = 1
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
    encrypted: they are read for the page's caseloads and decided in Python. Six queries,
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
    paged = Paginator(_by_label(clinicians), DUE_CLINICIANS_SHOWN).get_page(page)
    shown = _labels(paged)
    caseloads: dict[int, list[tuple[object, str]]] = {pk: [] for pk in shown}
    rows = open_care.filter(clinician_id__in=list(shown)).values_list("clinician_id", "patient_id", "patient__mrn")
    for clinician_id, patient_id, mrn in rows:
        caseloads[clinician_id].append((patient_id, mrn))
    due = assessments_selectors.due_for_patients(
        {patient_id for caseload in caseloads.values() for patient_id, _ in caseload}, today=today
    )
    listed = []
    for pk, label in shown.items():
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
    return MeasuresDue(
        day=today,
        clinicians=tuple(listed),
        page=paged.number,
        pages=paged.paginator.num_pages,
        clinician_total=paged.paginator.count,
    )


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


def _named(board: Dashboard, user) -> Dashboard:
    """Return `board` with each listed patient's label: the name where `user` may see it, else the MRN.

    One batch for every panel (`patients.display.labels_for`, at most two queries), so naming
    the patients costs the same however many the panels list.
    """
    items = []
    if board.schedule:
        items += [item for day in board.schedule.clinicians for item in day.items]
    if board.late_notes:
        items += [note for author in board.late_notes.authors for note in author.notes]
    if board.plan_reviews:
        items += [plan for clinician in board.plan_reviews.clinicians for plan in clinician.plans]
    for panel, field in (
        (board.my_day, "appointments"),
        (board.my_drafts, "notes"),
        (board.alerts, "alerts"),
        (board.risk_answers, "answers"),
    ):
        items += list(getattr(panel, field)) if panel else []
    if board.measures_due:
        items += [patient for clinician in board.measures_due.clinicians for patient in clinician.patients]
    labels = display.labels_for(user, {item.patient_id for item in items if item.patient_id is not None})
    if not labels:
        return board

    def label(item):
        return dataclasses.replace(item, label=labels.get(item.patient_id))

    def each(panel, field):
        return dataclasses.replace(panel, **{field: tuple(label(item) for item in getattr(panel, field))})

    changes = {}
    if board.schedule:
        changes["schedule"] = dataclasses.replace(
            board.schedule, clinicians=tuple(each(day, "items") for day in board.schedule.clinicians)
        )
    if board.late_notes:
        changes["late_notes"] = dataclasses.replace(
            board.late_notes, authors=tuple(each(author, "notes") for author in board.late_notes.authors)
        )
    if board.plan_reviews:
        changes["plan_reviews"] = dataclasses.replace(
            board.plan_reviews, clinicians=tuple(each(one, "plans") for one in board.plan_reviews.clinicians)
        )
    for name, field in (
        ("my_day", "appointments"),
        ("my_drafts", "notes"),
        ("alerts", "alerts"),
        ("risk_answers", "answers"),
    ):
        if getattr(board, name):
            changes[name] = each(getattr(board, name), field)
    if board.measures_due:
        changes["measures_due"] = dataclasses.replace(
            board.measures_due,
            clinicians=tuple(each(clinician, "patients") for clinician in board.measures_due.clinicians),
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
