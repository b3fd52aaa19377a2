"""The dashboard's paged panels, side by side: every page costs the same queries, knows its place, and is read whole.

Five panels page their entries: today's schedule, the late drafts and the plans due for review
(per clinician or author), the measures due (per clinician) and the risk answers (per answer).
One clinic with three clinicians, each with a visit today, a late draft, a plan due and a patient
with measures due, and three open risk answers in the first one's care, is paged two entries at a
time: page 1 lists two, page 2 one, and page 9 is past the end. A query per entry would show as a
page of two costing more than a page of one.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from appointments import domain as appointments_domain
from appointments import services as appointments_services
from appointments.tests.conftest import make_room
from assessments.tests import builders
from clinic import dashboard
from clinical_notes.tests.factories import drafted
from conftest import assign_care
from novamind import db_router, roles
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import repository as patients_repository
from treatment_plans import services as plans_services
from treatment_plans.tests import factories as plans_factories

pytestmark = pytest.mark.django_db

CLINICIAN = {"credentials": "PhD", "is_clinician": True}
NAMES = ("dra", "drb", "drc")
PAGES = (1, 2, 9)
PER_PAGE = 2


@pytest.fixture
def clinic(settings):
    """Return the superuser and three clinicians, each with one of everything the paged panels list."""
    settings.NOVAMIND_LATE_ENTRY_DAYS = 3
    root = superuser()
    room = make_room(root, "Room 1")
    nine = timezone.make_aware(dt.datetime.combine(timezone.localdate(), dt.time(9)))
    clinicians = []
    for number, name in enumerate(NAMES):
        clinician = member(name, roles.CLINICIAN, profile=CLINICIAN)
        patient = a_patient(root, f"Paged{number}", clinician)
        start = nine + dt.timedelta(hours=number)
        appointments_services.appointment_book(
            actor=root,
            appointment=appointments_domain.Appointment(
                patient_id=patient.id,
                clinician_id=clinician.pk,
                start=start,
                end=start + dt.timedelta(minutes=50),
                room_id=room.pk,
                kind=appointments_domain.Kind.THERAPY,
            ),
            now=start - dt.timedelta(days=2),
        )
        # Not in the order of their names: drc's draft has waited longest, drb's plan is the most overdue.
        drafted(clinician, patient, days_ago=(5, 6, 10)[number])
        plan = plans_factories.drafted(clinician, patient)
        signed = timezone.now() - dt.timedelta(days=(95, 110, 100)[number])
        plans_services.plan_sign(plan_id=plan.id, actor=clinician, now=signed)
        builders.diagnose(patient.id, "F33.1", by=root)  # a PHQ-9 is due: the last was 45 days ago
        builders.record(clinician, patient.id, item9=1, days_ago=45)
        clinicians.append(clinician)
    for number in range(2):  # two more open risk answers in dra's care, of patients with no measure due
        builders.record(clinicians[0], a_patient(root, f"Risk{number}", clinicians[0]).id, item9=1)
    return root, clinicians


def a_patient(root, last_name, clinician):
    """Return a new patient in `clinician`'s care."""
    patient = patients_repository.DjangoPatientRepository(actor=root).add(
        patients_domain.Patient(
            legal_first_name="Robin", legal_last_name=last_name, date_of_birth=dt.date(1980, 1, 1 + len(last_name))
        )
    )
    assign_care(patient, clinician, by=root)
    return patient


@pytest.fixture
def two_a_page(monkeypatch):
    for constant in (
        "SCHEDULE_CLINICIANS_SHOWN",
        "LATE_AUTHORS_SHOWN",
        "REVIEW_CLINICIANS_SHOWN",
        "DUE_CLINICIANS_SHOWN",
        "RISK_SHOWN",
    ):
        monkeypatch.setattr(dashboard, constant, PER_PAGE)


def paged_panels(root, clinician):
    """Return each paged panel as a function of the page, as the superuser sees it (risk answers: the clinician)."""
    today = timezone.localdate()
    return {
        "schedule": lambda page: dashboard.todays_schedule(viewer=root, day=today, page=page),
        "late notes": lambda page: dashboard.late_unsigned_notes(viewer=root, today=today, page=page),
        "plan reviews": lambda page: dashboard.plans_due_for_review(viewer=root, today=today, page=page),
        "measures due": lambda page: dashboard.measures_due(viewer=root, today=today, page=page),
        "risk answers": lambda page: dashboard.risk_answers(user=clinician, now=timezone.now(), page=page),
    }


def entries(panel) -> tuple:
    for field in ("clinicians", "authors", "answers"):
        if hasattr(panel, field):
            return getattr(panel, field)
    raise AssertionError(f"{type(panel).__name__} lists no entries")


def names(panel) -> list[str]:
    return [getattr(entry, "clinician", None) or getattr(entry, "author", None) for entry in entries(panel)]


# --- queries --------------------------------------------------------------------------------------


# What each panel's docstring promises: the page of people and its count, then their rows (the
# measures due: their care assignments, the patients' current diagnoses and their last measures).
PROMISED_QUERIES = {"schedule": 3, "late notes": 3, "plan reviews": 3, "measures due": 5, "risk answers": 2}
# The index says where a page stands ("Clinicians 2–2 of 3") for these; the measures due say "page 2 of 3".
SAYS_ITS_PLACE = ("schedule", "late notes", "plan reviews", "risk answers")


@pytest.mark.parametrize("name", PROMISED_QUERIES)
def test_every_page_of_a_paged_panel_costs_the_same_queries_and_knows_its_place(clinic, two_a_page, name):
    root, clinicians = clinic
    panel = paged_panels(root, clinicians[0])[name]
    panel(1)  # whether the viewer is care-restricted is read once, then kept
    places = []
    for page in PAGES:
        with CaptureQueriesContext(connection) as captured:
            read = panel(page)
        assert len(entries(read)) == (2 if page == 1 else 1), f"{name}, page {page}"
        queries = "\n".join(query["sql"] for query in captured.captured_queries)
        assert len(captured) == PROMISED_QUERIES[name], f"{name}, page {page}:\n{queries}"
        places.append((read.page, read.pages))
        if name in SAYS_ITS_PLACE:
            assert (read.first_shown, read.last_shown) == ((1, 2) if page == 1 else (3, 3))
    assert places == [(1, 2), (2, 2), (2, 2)]  # past the end: the last page


def test_an_empty_panel_is_one_page_with_no_place():
    root = superuser()
    today = timezone.localdate()
    for read in (
        dashboard.todays_schedule(viewer=root, day=today),
        dashboard.measures_due(viewer=root, today=today),
        dashboard.late_unsigned_notes(viewer=root, today=today),
        dashboard.plans_due_for_review(viewer=root, today=today),
        dashboard.risk_answers(user=root, now=timezone.now()),
    ):
        assert (read.page, read.pages, len(entries(read))) == (1, 1, 0)
        if not isinstance(read, dashboard.MeasuresDue):
            assert (read.first_shown, read.last_shown) == (0, 0)


def test_each_panel_orders_its_people_as_it_says(clinic, two_a_page):
    root, clinicians = clinic
    panels = paged_panels(root, clinicians[0])
    orders = {
        "schedule": ["dra, PhD", "drb, PhD", "drc, PhD"],  # by name
        "measures due": ["dra, PhD", "drb, PhD", "drc, PhD"],
        "late notes": ["drc, PhD", "drb, PhD", "dra, PhD"],  # the one waiting longest first
        "plan reviews": ["drb, PhD", "drc, PhD", "dra, PhD"],  # the most overdue plan first
    }
    for name, order in orders.items():
        assert names(panels[name](1)) + names(panels[name](2)) == order, name


# --- measures due ---------------------------------------------------------------------------------


def test_measures_due_page_their_clinicians_by_name_and_list_one_with_nothing_due(clinic, monkeypatch):
    root, (dra, drb, drc) = clinic
    monkeypatch.setattr(dashboard, "DUE_CLINICIANS_SHOWN", 2)
    monkeypatch.setattr(dashboard, "DUE_PATIENTS_SHOWN", 1)
    more_due = a_patient(root, "Moredue", dra)  # dra has two patients due
    builders.diagnose(more_due.id, "F33.1", by=root)
    measured = a_patient(root, "Measured", drb)  # drb's second patient was measured today
    builders.diagnose(measured.id, "F33.1", by=root)
    builders.record(drb, measured.id, total=5)
    (drc_patient,) = dashboard.measures_due(viewer=drc, today=timezone.localdate()).clinicians[0].patients
    builders.record(drc, drc_patient.patient_id, total=5)  # drc has nothing due now, but is still listed

    first = dashboard.measures_due(viewer=root, today=timezone.localdate())
    second = dashboard.measures_due(viewer=root, today=timezone.localdate(), page=2)

    assert [(c.clinician, len(c.patients), c.waiting, c.not_shown) for c in first.clinicians] == [
        ("dra, PhD", 1, 2, 1),
        ("drb, PhD", 1, 1, 0),
    ]
    assert [(c.clinician, c.patients, c.waiting) for c in second.clinicians] == [("drc, PhD", (), 0)]
    assert (first.page, first.pages, first.clinician_total, second.page) == (1, 2, 3, 2)
    assert first.patient_count == 2


def test_a_care_restricted_viewer_is_the_only_clinician_of_their_measures_due(clinic):
    root, (dra, drb, drc) = clinic
    due = dashboard.measures_due(viewer=drb, today=timezone.localdate(), page=5)
    assert [(c.clinician, len(c.patients)) for c in due.clinicians] == [("drb, PhD", 1)]
    assert (due.page, due.pages, due.clinician_total) == (1, 1, 1)


# --- read whole, on the replica's side ------------------------------------------------------------


PANEL_TABLES = (
    "appointments_appointment",
    "clinical_notes_clinicalnote",
    "treatment_plans_treatmentplan",
    "assessments_",
    "diagnoses_diagnosis",
)


def test_every_panel_read_is_made_inside_the_reporting_block_and_the_board_is_read_whole(clinic, two_a_page):
    root, clinicians = clinic
    ran = []

    def note(execute, sql, params, many, context):
        ran.append((sql, db_router._reporting.get()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        board = dashboard.for_user(root)
        during = len(ran)
        repr(board)
        places = [
            (panel.page, panel.pages, panel.first_shown, panel.last_shown)
            for panel in (board.schedule, board.late_notes, board.plan_reviews)
        ]
    assert places == [(1, 2, 1, 2)] * 3 and board.measures_due.pages == 2
    assert len(ran) == during, "reading the board after for_user queried the database"
    inside = [sql for sql, reporting in ran if reporting and any(table in sql for table in PANEL_TABLES)]
    assert len(inside) >= len(PANEL_TABLES), "the panels' reads were not seen"
    outside = [sql for sql, reporting in ran if not reporting and any(table in sql for table in PANEL_TABLES)]
    assert outside == []


def test_a_care_restricted_viewers_late_drafts_are_paged_by_the_author_waiting_longest(clinic, monkeypatch):
    root, (dra, drb, drc) = clinic
    monkeypatch.setattr(dashboard, "LATE_AUTHORS_SHOWN", 1)
    (due,) = dashboard.measures_due(viewer=drb, today=timezone.localdate()).clinicians[0].patients
    patient = patients_repository.DjangoPatientRepository(actor=root).get_by_id(due.patient_id)
    assign_care(patient, dra, by=root)
    older = drafted(dra, patient, days_ago=20)  # in drb's caseload, by dra, waiting longer than drb's own

    pages = [dashboard.late_unsigned_notes(viewer=drb, page=page) for page in (1, 2, 9)]

    assert [[author.author for author in read.authors] for read in pages] == [["dra, PhD"], ["drb, PhD"], ["drb, PhD"]]
    assert [note.note_id for note in pages[0].authors[0].notes] == [older.id] and pages[0].author_total == 2
