"""The clinic dashboard on the admin index, on a real database: counts, weeks, permissions, queries."""

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from appointments import domain, repository, services, tallies
from appointments import models as appointment_models
from appointments.tests.conftest import make_clinician, make_patient, make_room
from clinic import dashboard
from clinical_notes import domain as notes_domain
from clinical_notes.tests.factories import drafted, signed
from conftest import make_staff
from novamind.models import AccessLogEntry

pytestmark = pytest.mark.django_db

INDEX = "admin:index"
SVG = "{http://www.w3.org/2000/svg}"


# --- builders -------------------------------------------------------------------------------------


def at(zone_name, day, hour, minute=0):
    """Return an aware datetime at a wall-clock time of `day` in the named zone."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zoneinfo.ZoneInfo(zone_name))


class Clinic:
    """Books past and present appointments through the services, as the front desk would."""

    def __init__(self, actor, room):
        self.actor, self.room = actor, room
        self.repo = repository.DjangoAppointmentRepository(actor=actor)

    def book(self, clinician, patient, start, *, minutes=50, kind=domain.Kind.THERAPY):
        appointment = domain.Appointment(
            patient_id=patient.id,
            clinician_id=clinician.pk,
            start=start,
            end=start + dt.timedelta(minutes=minutes),
            room_id=self.room.pk,
            kind=kind,
        )
        # Booked two days ahead, so a visit in a past week can be set up as it happened.
        return services.appointment_book(
            actor=self.repo.actor, appointment=appointment, now=start - dt.timedelta(days=2)
        )

    def completed(self, *args, **kwargs):
        booked = self.book(*args, **kwargs)
        services.appointment_check_in(actor=self.repo.actor, appointment_id=booked.id, now=booked.start)
        return services.appointment_complete(actor=self.repo.actor, appointment_id=booked.id, now=booked.end)

    def cancelled(self, *args, hours_ahead, **kwargs):
        booked = self.book(*args, **kwargs)
        return services.appointment_cancel(
            actor=self.repo.actor,
            appointment_id=booked.id,
            by=domain.CancelledBy.PATIENT,
            reason="Unwell",
            now=booked.start - dt.timedelta(hours=hours_ahead),
        )

    def no_show(self, *args, **kwargs):
        booked = self.book(*args, **kwargs)
        return services.appointment_mark_no_show(
            actor=self.repo.actor,
            appointment_id=booked.id,
            now=booked.end + dt.timedelta(hours=2),
        )


@pytest.fixture
def clinic(staff):
    return Clinic(staff, make_room(staff, "Room 1"))


@pytest.fixture
def drwho(staff):
    return make_clinician("drwho", actor=staff)


@pytest.fixture
def drno(staff):
    return make_clinician("drno", actor=staff, credentials="LCSW")


@pytest.fixture
def patients(staff):
    return [make_patient(staff, legal_first_name=f"Zebulon{n}", legal_last_name=f"Quagmire{n}") for n in range(3)]


def counts(trend):
    return {w.week_start: (w.visits, w.late_cancellations, w.no_shows) for w in trend.weeks}


# --- the twelve weeks ------------------------------------------------------------------------------


def test_each_week_counts_its_visits_late_cancellations_and_no_shows(settings, staff, clinic, drwho, patients):
    settings.TIME_ZONE = "America/New_York"
    today = dt.date(2025, 2, 12)  # a Wednesday
    this_monday, last_monday = dt.date(2025, 2, 10), dt.date(2025, 2, 3)
    first, second, third = patients
    clinic.completed(drwho, first, at(settings.TIME_ZONE, last_monday, 9))
    clinic.completed(drwho, second, at(settings.TIME_ZONE, last_monday, 11))
    clinic.cancelled(drwho, third, at(settings.TIME_ZONE, last_monday, 14), hours_ahead=3)  # late
    clinic.cancelled(drwho, third, at(settings.TIME_ZONE, last_monday, 16), hours_ahead=72)  # in time
    clinic.no_show(drwho, first, at(settings.TIME_ZONE, last_monday + dt.timedelta(days=4), 10))
    clinic.book(drwho, second, at(settings.TIME_ZONE, last_monday + dt.timedelta(days=2), 10))  # still scheduled
    clinic.completed(drwho, first, at(settings.TIME_ZONE, this_monday, 10))
    clinic.no_show(drwho, second, at(settings.TIME_ZONE, dt.date(2024, 11, 25), 10))  # eleven weeks before
    clinic.completed(drwho, third, at(settings.TIME_ZONE, dt.date(2024, 11, 18), 10))  # twelve: too old

    trend = dashboard.weekly_trend(viewer=staff, today=today)

    weeks = counts(trend)
    assert list(weeks) == [dt.date(2024, 11, 25) + dt.timedelta(weeks=n) for n in range(12)]
    assert weeks[last_monday] == (2, 1, 1)
    assert weeks[this_monday] == (1, 0, 0)
    assert weeks[dt.date(2024, 11, 25)] == (0, 0, 1)
    assert sum(sum(week) for week in weeks.values()) == 6
    assert [w.to_date for w in trend.weeks] == [False] * 11 + [True]


@pytest.mark.parametrize(
    "zone_name, moment, week",
    [
        # 23:00 on Sunday in New York is already Monday in UTC: it belongs to the week before.
        ("America/New_York", (dt.date(2025, 3, 9), 23), dt.date(2025, 3, 3)),
        ("America/New_York", (dt.date(2025, 3, 10), 0), dt.date(2025, 3, 10)),
        # 01:00 on Monday in Auckland is still Sunday in UTC: it belongs to the new week.
        ("Pacific/Auckland", (dt.date(2025, 3, 10), 1), dt.date(2025, 3, 10)),
        ("Pacific/Auckland", (dt.date(2025, 3, 9), 23), dt.date(2025, 3, 3)),
    ],
)
def test_weeks_run_monday_to_sunday_in_the_clinic_time_zone(
    settings, staff, clinic, drwho, patients, zone_name, moment, week
):
    settings.TIME_ZONE = zone_name
    clinic.completed(drwho, patients[0], at(zone_name, *moment, minute=5))

    weeks = counts(dashboard.weekly_trend(viewer=staff, today=dt.date(2025, 3, 12)))

    assert weeks[week] == (1, 0, 0)
    assert sum(visits for visits, _, _ in weeks.values()) == 1


def test_the_trend_costs_two_queries_whatever_the_data_once_past_days_are_tallied(
    staff, clinic, drwho, drno, patients, django_assert_num_queries
):
    # One visit on the Monday of each of the 12 weeks shown (a day before today fell out of the
    # window on Mondays: eleven weeks and a day ago is thirteen Mondays back).
    monday = dashboard.week_start(timezone.localdate())
    for weeks_ago in range(12):
        start = timezone.make_aware(dt.datetime.combine(monday - dt.timedelta(weeks=weeks_ago), dt.time(9)))
        clinic.completed(drwho, patients[0], start)
        clinic.no_show(drno, patients[1], start + dt.timedelta(hours=2))
    dashboard.weekly_trend(viewer=staff)  # tallies the past days; asks once whether staff are in a care role
    with django_assert_num_queries(2):  # the tallies, and today onwards
        trend = dashboard.weekly_trend(viewer=staff)
    assert sum(w.visits for w in trend.weeks) == 12 and sum(w.no_shows for w in trend.weeks) == 12


def test_a_change_to_a_past_day_is_counted_at_once(staff, clinic, drwho, patients):
    monday = dashboard.week_start(timezone.localdate())
    start = timezone.make_aware(dt.datetime.combine(monday - dt.timedelta(weeks=2), dt.time(9)))
    clinic.completed(drwho, patients[0], start)
    assert sum(w.visits for w in dashboard.weekly_trend(viewer=staff).weeks) == 1
    assert appointment_models.DayTally.objects.exists()  # the past days are kept

    clinic.no_show(drwho, patients[1], start + dt.timedelta(hours=2))

    weeks = dashboard.weekly_trend(viewer=staff).weeks
    assert (sum(w.visits for w in weeks), sum(w.no_shows for w in weeks)) == (1, 1)


def test_a_kept_tally_is_recounted_once_it_is_an_hour_old(staff, clinic, drwho, patients):
    monday = dashboard.week_start(timezone.localdate())
    clinic.completed(
        drwho, patients[0], timezone.make_aware(dt.datetime.combine(monday - dt.timedelta(weeks=3), dt.time(9)))
    )
    dashboard.weekly_trend(viewer=staff)
    stale = timezone.now() - tallies.FRESH_FOR - dt.timedelta(minutes=1)
    for tally in appointment_models.DayTally.objects.all():  # a tally counted while a change committed
        tally.visits, tally.computed_at = 7, stale
        tally.save()

    assert sum(w.visits for w in dashboard.weekly_trend(viewer=staff).weeks) == 1


# --- today's schedule ---------------------------------------------------------------------------


def test_todays_schedule_lists_every_clinician_with_their_appointments_in_order(staff, clinic, drwho, drno, patients):
    today = timezone.localdate()
    nine = timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
    later = clinic.book(drwho, patients[0], nine + dt.timedelta(hours=3), kind=domain.Kind.INTAKE)
    earlier = clinic.completed(drwho, patients[1], nine)
    cancelled = clinic.cancelled(drwho, patients[2], nine + dt.timedelta(hours=5), hours_ahead=2)
    clinic.book(drwho, patients[0], nine + dt.timedelta(days=1))  # tomorrow

    schedule = dashboard.todays_schedule(viewer=staff)

    assert schedule.day == today
    by_clinician = {day.clinician: day for day in schedule.clinicians}
    assert set(by_clinician) == {"Drwho Drwho, PhD", "Drno Drno, LCSW"}
    assert by_clinician["Drno Drno, LCSW"].items == ()
    day = by_clinician["Drwho Drwho, PhD"]
    assert [item.appointment_id for item in day.items] == [earlier.id, later.id, cancelled.id]
    assert (day.booked, day.completed, day.released) == (2, 1, 1)
    assert day.items[1].kind is domain.Kind.INTAKE and day.items[1].mrn == patients[0].mrn
    assert day.items[2].status_text == "Cancelled (late)"
    assert day.items[0].start.tzinfo is not None and day.items[0].start.hour == 9


def test_todays_schedule_shows_a_page_of_clinicians_at_a_time(monkeypatch, staff, clinic, drwho, drno, patients):
    monkeypatch.setattr(dashboard, "SCHEDULE_CLINICIANS_SHOWN", 1)
    nine = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(9)))
    visit = clinic.book(drwho, patients[0], nine)

    first, second, past_the_end = (dashboard.todays_schedule(viewer=staff, page=page) for page in (1, 2, 9))

    assert [day.clinician for day in first.clinicians] == ["Drno Drno, LCSW"]
    assert [day.clinician for day in second.clinicians] == ["Drwho Drwho, PhD"]
    assert [item.appointment_id for item in second.clinicians[0].items] == [visit.id]
    assert (second.page, second.pages, second.clinician_total, second.first_shown) == (2, 2, 2, 2)
    assert past_the_end.page == 2 and first.appointment_count == 0


def test_the_index_links_the_pages_of_todays_schedule(monkeypatch, client, staff, busy_day):
    monkeypatch.setattr(dashboard, "SCHEDULE_CLINICIANS_SHOWN", 1)

    first = admin_page(client, staff)
    second = admin_page(client, staff, reverse(INDEX) + "?schedule=2")

    assert "Clinicians 1–1 of 2" in first and "?schedule=2&amp;late=1#dashboard-schedule" in first
    assert "Clinicians 2–2 of 2" in second and "?schedule=1&amp;late=1#dashboard-schedule" in second
    assert admin_page(client, staff, reverse(INDEX) + "?schedule=%C2%B2").count("Clinicians 1–1 of 2") == 1


# --- unsigned notes ------------------------------------------------------------------------------


def test_unsigned_notes_older_than_the_late_entry_days_are_listed_per_author(settings, staff, drwho, drno, patients):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    first, second, _ = patients
    not_yet = drafted(drwho, first, days_ago=3)  # signing it today is not a late entry yet
    old = drafted(drwho, first, days_ago=4)
    older = drafted(drwho, second, days_ago=10)
    drno_old = drafted(drno, second, days_ago=6)
    signed(drno, first, days_ago=20)
    drafted(drno, first, days_ago=8, kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE)  # not listable by others

    late = dashboard.late_unsigned_notes(viewer=staff)

    assert late.older_than_days == 3
    by_author = {author.author: [note.note_id for note in author.notes] for author in late.authors}
    assert by_author == {"Drwho Drwho, PhD": [older.id, old.id], "Drno Drno, LCSW": [drno_old.id]}
    assert not_yet.id not in {n.note_id for a in late.authors for n in a.notes}
    assert [author.author for author in late.authors] == [
        "Drwho Drwho, PhD",
        "Drno Drno, LCSW",
    ]  # waiting longest first
    assert late.authors[0].oldest.days_since_service == 10 and late.authors[0].oldest.mrn == second.mrn


def test_each_author_lists_their_oldest_late_drafts_and_counts_the_rest(
    settings, monkeypatch, staff, drwho, drno, patients
):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    monkeypatch.setattr(dashboard, "LATE_NOTES_SHOWN", 2)
    first, second, _ = patients
    oldest = drafted(drwho, second, days_ago=10)
    older = drafted(drwho, first, days_ago=8)
    drafted(drwho, first, days_ago=4)
    drno_old = drafted(drno, second, days_ago=6)

    late = dashboard.late_unsigned_notes(viewer=staff)

    by_author = {author.author: ([n.note_id for n in author.notes], author.waiting) for author in late.authors}
    assert by_author == {"Drwho Drwho, PhD": ([oldest.id, older.id], 3), "Drno Drno, LCSW": ([drno_old.id], 1)}
    assert [author.not_shown for author in late.authors] == [1, 0]


def test_late_drafts_show_a_page_of_authors_the_one_waiting_longest_first(
    settings, monkeypatch, client, staff, drwho, drno, patients
):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    monkeypatch.setattr(dashboard, "LATE_AUTHORS_SHOWN", 1)
    first, second, _ = patients
    for days_ago in (5, 6, 7):
        drafted(drno, first, days_ago=days_ago)  # the most drafts, but not the oldest
    longest = drafted(drwho, second, days_ago=12)

    one, two, past_the_end = (dashboard.late_unsigned_notes(viewer=staff, page=page) for page in (1, 2, 9))

    assert [(a.author, [n.note_id for n in a.notes]) for a in one.authors] == [("Drwho Drwho, PhD", [longest.id])]
    assert [(a.author, a.waiting) for a in two.authors] == [("Drno Drno, LCSW", 3)]
    assert (one.pages, one.author_total, two.first_shown, past_the_end.page) == (2, 2, 2, 2)
    page = admin_page(client, staff, reverse(INDEX) + "?late=2")
    assert "Authors 2–2 of 2" in page and "?late=1&amp;schedule=1#dashboard-late-notes" in page


def test_an_author_sees_their_own_late_psychotherapy_drafts(settings, drno, patients):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    own = drafted(drno, patients[0], days_ago=8, kind=notes_domain.NoteKind.PSYCHOTHERAPY_NOTE)

    late = dashboard.late_unsigned_notes(viewer=drno)

    assert [note.note_id for author in late.authors for note in author.notes] == [own.id]


def test_the_cutoff_agrees_with_the_late_entry_rule():
    today = dt.date(2025, 3, 12)
    cutoff = dashboard.late_entry_cutoff(today, 3)
    for days_ago in range(0, 8):
        service = today - dt.timedelta(days=days_ago)
        assert (service < cutoff) == notes_domain.is_late_entry(service, today, 3)


# --- the page -----------------------------------------------------------------------------------


@pytest.fixture
def busy_day(staff, clinic, drwho, drno, patients, settings):
    """Today's appointments, late drafts and past weeks' visits, for two clinicians."""
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    today = timezone.localdate()
    nine = timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
    clinic.book(drwho, patients[0], nine)
    clinic.no_show(drno, patients[1], nine - dt.timedelta(weeks=2))
    clinic.cancelled(drno, patients[2], nine - dt.timedelta(weeks=1), hours_ahead=1)
    clinic.completed(drwho, patients[1], nine - dt.timedelta(weeks=1))
    drafted(drwho, patients[2], days_ago=5)
    return today


def admin_page(client, user, url=None):
    client.force_login(user)
    response = client.get(url or reverse(INDEX))
    assert response.status_code == 200
    return response.content.decode()


def chart_of(page: str) -> ET.Element:
    svgs = re.findall(r'<svg [^>]*class="trend-chart".*?</svg>', page, flags=re.S)
    assert len(svgs) == 1
    return ET.fromstring(svgs[0])


def test_the_index_shows_the_three_panels_above_the_app_list(client, staff, busy_day, patients):
    page = admin_page(client, staff)

    schedule, notes, trend, apps = (
        page.index(marker)
        for marker in (
            'id="dashboard-schedule"',
            'id="dashboard-late-notes"',
            'id="dashboard-trend"',
            'id="content-main"',
        )
    )
    assert -1 < schedule < notes < trend < apps
    assert 'href="/admin/appointments/"' in page[apps:]  # the app list is still there
    assert "Drwho Drwho, PhD" in page and "Unsigned notes older than 3 days" in page
    assert patients[0].mrn in page[schedule:notes] and patients[2].mrn in page[notes:trend]
    root = chart_of(page)
    assert root.find(f"{SVG}title").text.startswith("Visits, late cancellations and no-shows per week")
    assert "<script" not in page[schedule:apps]
    # The same numbers as a table for screen readers: one row per week.
    table = page[page.index('<table class="visually-hidden">') : apps]
    assert table.count('<th scope="row">') == 12


def test_the_index_names_only_the_patients_it_lists(client, staff, busy_day, patients):
    page = admin_page(client, staff).lower()
    # The patient seen today and the one with a late note, by name and MRN; the other is only in the counts.
    for listed in (patients[0], patients[2]):
        assert listed.legal_last_name.lower() in page and listed.mrn.lower() in page
    assert patients[1].legal_last_name.lower() not in page and patients[1].mrn.lower() not in page


def test_listing_patients_on_the_index_is_written_to_the_access_log(client, staff, busy_day):
    admin_page(client, staff)
    entries = AccessLogEntry.objects.filter(action="dashboard", user=staff)
    assert sorted(entries.values_list("category", flat=True)) == ["appointments", "clinical_note"]
    assert all(entry.patient_mrn == "" for entry in entries)


def test_staff_without_appointment_permissions_get_no_schedule_and_no_chart(client, busy_day):
    notes_only = make_staff("notesonly", permissions=("clinical_notes",))
    page = admin_page(client, notes_only)
    assert 'id="dashboard-late-notes"' in page
    assert (
        'id="dashboard-schedule"' not in page
        and 'id="dashboard-trend"' not in page
        and 'class="trend-chart"' not in page
    )


def test_staff_without_note_permissions_get_no_note_panel(client, busy_day):
    schedulers = make_staff("frontdesk", permissions=("appointments", "patients"))
    page = admin_page(client, schedulers)
    assert 'id="dashboard-schedule"' in page and 'id="dashboard-trend"' in page
    assert 'id="dashboard-late-notes"' not in page


def test_staff_with_no_clinical_permission_see_no_dashboard_and_nothing_is_logged(client, busy_day):
    nobody = make_staff("visitor", permissions=())
    page = admin_page(client, nobody)
    assert 'id="clinic-dashboard"' not in page and 'id="content-main"' in page
    assert not AccessLogEntry.objects.filter(action="dashboard").exists()


def test_an_app_index_page_has_no_dashboard(client, staff, busy_day):
    page = admin_page(client, staff, reverse("admin:app_list", args=["appointments"]))
    assert 'id="clinic-dashboard"' not in page and 'id="content-main"' in page


def test_the_index_costs_the_same_queries_with_more_data(
    client, staff, clinic, drwho, drno, patients, settings, django_assert_max_num_queries
):
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    client.force_login(staff)
    today = timezone.localdate()
    nine = timezone.make_aware(dt.datetime.combine(today, dt.time(9)))
    clinic.book(drwho, patients[0], nine)
    drafted(drwho, patients[0], days_ago=5)
    clinic.completed(drno, patients[1], nine - dt.timedelta(weeks=1))

    def index_queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse(INDEX)).status_code == 200
        return len(captured)

    index_queries()  # the first request also warms caches (content types), starts the access log and tallies past days
    small = index_queries()
    third = make_clinician("drthird", actor=staff)
    for hour in range(4):
        for who in (drwho, drno, third):
            patient = make_patient(staff)
            clinic.room = make_room(staff, f"Room {who.pk}-{hour}")
            clinic.book(who, patient, nine + dt.timedelta(hours=hour + 1))
            drafted(who, patient, days_ago=4 + hour)
            for weeks_ago in range(1, 12):
                clinic.no_show(who, patient, nine - dt.timedelta(weeks=weeks_ago, hours=hour + 1))
    index_queries()  # recounts the past days the new visits changed
    assert index_queries() == small

    staff = get_user_model().objects.get(pk=staff.pk)  # a fresh user: its permissions are loaded again
    # Two for the permissions, one for whether the viewer is in a care role (patients.policy), one
    # for their staff profile (whether they are a clinician with a day of their own),
    # three for the schedule and three for the notes (count, one page of people, their rows), two
    # for the weeks (the past days' tallies, today onwards), two to name the patients listed
    # (patients.display.labels_for), and five per access-log entry (savepoint, lock the chain
    # head, insert, move the head, release).
    with django_assert_max_num_queries(2 + 1 + 1 + 3 + 3 + 2 + 2 + 2 * 5):
        board = dashboard.for_user(staff)
    assert board.schedule.appointment_count == 13 and board.late_notes.note_count == 13
    assert sum(w.no_shows for w in board.trend.weeks) == 12 * 11


# --- care: a clinician's dashboard lists their own patients only -----------------------------------


@pytest.fixture
def two_practices(staff, clinic, patients, settings):
    """Two clinicians in the Clinician role, each treating one patient, each with a visit today and a late draft."""
    from conftest import assign_care
    from novamind import roles
    from novamind.tests.integration.role_users import member

    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    mine = member("drmine", roles.CLINICIAN, profile={"credentials": "PhD", "is_clinician": True})
    theirs = member("drtheirs", roles.CLINICIAN, profile={"credentials": "PhD", "is_clinician": True})
    assign_care(patients[0], mine)
    assign_care(patients[1], theirs)
    nine = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(9)))
    clinic.book(mine, patients[0], nine)
    clinic.book(theirs, patients[1], nine + dt.timedelta(hours=1))
    clinic.completed(theirs, patients[1], nine - dt.timedelta(weeks=1))
    drafted(mine, patients[0], days_ago=5)
    drafted(theirs, patients[1], days_ago=5)
    return get_user_model().objects.get(pk=mine.pk), patients[0], patients[1]


def test_a_clinicians_dashboard_lists_only_the_patients_in_their_care(client, two_practices):
    clinician, own, colleagues = two_practices
    page = admin_page(client, clinician)
    assert own.mrn in page and colleagues.mrn not in page
    board = dashboard.for_user(clinician)
    assert len(board.my_day.appointments) == 1 and len(board.my_drafts.notes) == 1
    assert sum(week.visits for week in board.trend.weeks) == 0  # the colleague's patient's visit is not counted


# --- a clinician's own day --------------------------------------------------------------------------


def test_a_clinician_is_not_shown_their_colleagues_days(client, two_practices, staff):
    clinician, _, _ = two_practices
    board = dashboard.for_user(clinician)
    assert board.schedule is None and board.late_notes is None  # the clinic's schedule, every author's drafts
    page = admin_page(client, clinician)
    assert 'id="dashboard-schedule"' not in page and 'id="dashboard-late-notes"' not in page
    assert 'id="dashboard-my-day"' in page and 'id="dashboard-my-drafts"' in page
    front = dashboard.for_user(get_user_model().objects.get(pk=staff.pk))
    assert front.schedule is not None and front.my_day is None  # the front desk runs the clinic's day


def test_my_day_lists_my_appointments_today_in_order_and_checks_in_from_the_index(client, two_practices, clinic):
    clinician, own, colleagues = two_practices
    later = clinic.book(clinician, own, timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(15))))

    day = dashboard.my_day(user=clinician, day=timezone.localdate())
    assert [item.start.hour for item in day.appointments] == [9, 15]
    assert {item.mrn for item in day.appointments} == {own.mrn}  # the colleague's visit at ten is not mine
    page = admin_page(client, clinician)
    assert page.count("Check in</button>") == 2 and page.count(">Write note</a>") == 2

    version = appointment_models.Appointment.objects.get(pk=later.id).version
    response = client.post(
        reverse("admin:appointments_appointment_transition", args=[later.id]),
        {"action": "check_in", "version": version, "next": reverse(INDEX)},
    )
    assert response.status_code == 302 and response["Location"] == reverse(INDEX)
    assert appointment_models.Appointment.objects.get(pk=later.id).status == domain.Status.CHECKED_IN.value
    assert admin_page(client, clinician).count("Check in</button>") == 1


def test_a_check_in_returns_only_to_a_page_of_this_site(client, two_practices, clinic):
    clinician, own, _ = two_practices
    visit = appointment_models.Appointment.objects.get(clinician=clinician)
    client.force_login(clinician)
    response = client.post(
        reverse("admin:appointments_appointment_transition", args=[visit.id]),
        {"action": "check_in", "version": visit.version, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_write_note_opens_the_note_form_for_that_patient_and_day(client, two_practices):
    clinician, own, _ = two_practices
    page = admin_page(client, clinician)
    link = re.search(r'href="([^"]+)">Write note</a>', page).group(1).replace("&amp;", "&")
    form = admin_page(client, clinician, link)
    assert f'value="{own.id}" selected' in form
    assert f'value="{timezone.localdate().isoformat()}"' in form


def test_my_drafts_are_mine_oldest_first_counted_and_marked_late(settings, two_practices):
    clinician, own, _ = two_practices
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    recent = drafted(clinician, own, days_ago=1)

    drafts = dashboard.my_drafts(user=clinician, today=timezone.localdate())
    assert [note.days_since_service for note in drafts.notes] == [5, 1] and drafts.total == 2
    assert drafts.notes[-1].note_id == recent.id


def test_the_index_names_the_patients_it_lists_to_whoever_may_see_them(client, two_practices, staff):
    clinician, own, colleagues = two_practices
    mine = admin_page(client, clinician)
    assert own.legal_last_name in mine and own.mrn in mine
    assert colleagues.legal_last_name not in mine and colleagues.mrn not in mine
    front = admin_page(client, get_user_model().objects.get(pk=staff.pk))
    assert own.legal_last_name in front and colleagues.legal_last_name in front  # today's schedule


def test_my_drafts_lists_the_oldest_and_counts_the_rest(monkeypatch, two_practices):
    clinician, own, _ = two_practices
    monkeypatch.setattr(dashboard, "MY_DRAFTS_SHOWN", 1)
    drafted(clinician, own, days_ago=2)
    drafts = dashboard.my_drafts(user=clinician, today=timezone.localdate())
    assert len(drafts.notes) == 1 and drafts.total == 2 and drafts.not_shown == 1


def test_alerts_for_my_patients_name_emergency_access_by_others_and_missed_visits(two_practices, clinic):
    from patients import services as patient_services

    clinician, own, colleagues = two_practices
    colleague = get_user_model().objects.get(username="drtheirs")
    patient_services.emergency_access_grant(
        patient_id=own.id, reason="Crisis call overnight, the on-call clinician needs the chart.", actor=colleague
    )
    patient_services.emergency_access_grant(
        patient_id=colleagues.id,
        reason="Crisis call overnight, the on-call clinician needs the chart.",
        actor=clinician,
    )
    clinic.no_show(clinician, own, timezone.now() - dt.timedelta(days=2))
    clinic.no_show(clinician, own, timezone.now() - dt.timedelta(days=9))  # too long ago

    alerts = dashboard.my_alerts(user=clinician, now=timezone.now()).alerts
    assert [alert.what.split(" (")[0] for alert in alerts] == ["Emergency access by drtheirs", "Missed visit"]
    assert {alert.mrn for alert in alerts} == {own.mrn}  # my own grant on the colleague's patient is no alert


def test_every_link_on_a_clinicians_dashboard_opens(client, two_practices):
    clinician, _, _ = two_practices
    page = admin_page(client, clinician)
    dashboard_part = page[page.index('id="clinic-dashboard"') : page.index('id="content-main"')]
    links = re.findall(r'href="(/admin/(?:appointments|clinical_notes)/[^"]+/change/)"', dashboard_part)
    assert len(links) == 2
    for link in links:
        assert client.get(link).status_code == 200, link
