"""The in-process measures: search, admin pages, repository, schedule.

Each measure times the project's own code path and a control that returns the same rows, in
the same process, interleaved repetition by repetition so a burst of noise on the shared machine
hits both; the row compares medians. Query counts are taken with Django's
`CaptureQueriesContext` and are exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection, connections
from django.db.models import Q
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from appointments import domain as appointment_domain
from appointments import models as appointment_models
from appointments import policy, schedule, scheduling
from appointments import repository as appointment_repository
from bench import database, report
from bench.data import PlainPatient
from clinical_notes import models as note_models
from medications import models as medication_models
from novamind import blind_index
from patients import domain as patient_domain
from patients import models as patient_models
from patients import repository as patient_repository

RESULT_LIST = re.compile(rb'<table id="result_list">(.*?)</table>', re.S)


def elapsed_ms(function: Callable[[], object]) -> float:
    """Return how long one call of `function` took, in milliseconds."""
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def paired(figure: Callable[[], object], control: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Time `figure` and `control` alternately, `repeat` times each, after one warm-up call of each."""
    figure()
    control()
    figures, controls = [], []
    for _ in range(repeat):
        figures.append(elapsed_ms(figure))
        controls.append(elapsed_ms(control))
    return figures, controls


def query_shape(sql: str) -> str:
    """Return a query without its literals (no ciphertext or digest in the report), shortened."""
    shape = re.sub(r"'(?:[^']|'')*'", "?", sql)
    shape = re.sub(r"\b\d+\b", "?", shape)
    return shape[:160]


# --- admin pages --------------------------------------------------------------------------------


def admin_client(user) -> Client:
    """Return a test client signed in as `user` (the session is real; the login form is skipped)."""
    client = Client()
    client.force_login(user)
    return client


@dataclasses.dataclass
class PageSample:
    """One admin page, requested several times: each time, and the queries of each request."""

    url: str
    times: list[float] = dataclasses.field(default_factory=list)
    query_counts: list[int] = dataclasses.field(default_factory=list)
    rows: int = 0
    bytes: int = 0
    shapes: list[str] = dataclasses.field(default_factory=list)

    @property
    def ms(self) -> float:
        """Return the median time of a request."""
        return report.median(self.times)

    @property
    def queries(self) -> int:
        """Return the most queries any request ran (they should all run the same number)."""
        return max(self.query_counts)


def request(client: Client, url: str, sample: PageSample) -> None:
    """Request `url` once, adding its time, query count and shape to `sample`.

    The queries of every connection count: the dashboard's panels read the replica when the run has one.
    """
    with contextlib.ExitStack() as stack:
        captured = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections.databases]
        started = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}, not 200.")
    queries = [query for each in captured for query in each.captured_queries]
    sample.times.append(elapsed)
    sample.query_counts.append(len(queries))
    sample.rows = listed_rows(response.content)
    sample.bytes = len(response.content)
    sample.shapes = [query_shape(query["sql"]) for query in queries]


def listed_rows(content: bytes) -> int:
    """Return how many rows a changelist page lists (0 for a page that is not a changelist)."""
    table = RESULT_LIST.search(content)
    return table.group(1).count(b"<tr") - 1 if table else 0  # less the header row


def changelist_samples(admin, databases: dict[str, str], repeat: int) -> dict[str, PageSample]:
    """Return the patient changelist (first page, 100 rows) measured in each of `databases`.

    The databases take turns, one request each after a warm-up request, so that a change in
    the machine's load affects both alike; each turn signs in afresh.
    """
    url = reverse("admin:patients_patient_changelist")
    samples = {key: PageSample(url) for key in databases}
    for _ in range(repeat):
        for key, name in databases.items():
            database.use(name)
            client = admin_client(admin)
            client.get(url)
            request(client, url, samples[key])
    return samples


def _shape_difference(figure: PageSample, control: PageSample) -> list[str]:
    """Return the queries one page ran and the other did not (by shape), for the report."""
    extra = list(figure.shapes)
    for shape in control.shapes:
        if shape in extra:
            extra.remove(shape)
    missing = list(control.shapes)
    for shape in figure.shapes:
        if shape in missing:
            missing.remove(shape)
    return [f"+ {shape}" for shape in extra] + [f"- {shape}" for shape in missing]


def changelist_rows(full: PageSample, control: PageSample, *, patients: int, control_patients: int) -> list[report.Row]:
    """Return the two changelist rows: the query count, and the time (≤ 1.5x)."""
    if full.rows != control.rows:
        raise RuntimeError(f"The changelists listed {full.rows} and {control.rows} rows: not the same page.")
    detail = {"rows_listed": full.rows, "query_counts": [full.query_counts, control.query_counts]}
    if full.queries != control.queries:
        detail["query_difference"] = _shape_difference(full, control)
    return [
        report.judged(
            "changelist.queries",
            f"admin patient changelist (100 rows) at {patients:,} patients: queries",
            f"same page at {control_patients:,} patients",
            "queries",
            report.same_count(),
            figure=full.queries,
            control=control.queries,
            detail=detail,
        ),
        report.judged(
            "changelist.time",
            f"admin patient changelist (100 rows) at {patients:,} patients: median time",
            f"same page at {control_patients:,} patients",
            "ms",
            report.at_most(1.5),
            figure=full.ms,
            control=control.ms,
            detail={"requests": len(full.times)},
        ),
    ]


def patient_page_row(client: Client, heavy_id, light_id, repeat: int) -> report.Row:
    """Return the patient-page row: a heavy patient's page runs as many queries as a light one's."""
    heavy = PageSample(reverse("admin:patients_patient_change", args=[heavy_id]))
    light = PageSample(reverse("admin:patients_patient_change", args=[light_id]))
    client.get(heavy.url)
    client.get(light.url)
    for _ in range(repeat):
        request(client, heavy.url, heavy)
        request(client, light.url, light)
    detail = {
        "median_ms": [heavy.ms, light.ms],
        "time_ratio": heavy.ms / light.ms if light.ms else None,
        "bytes": [heavy.bytes, light.bytes],
        "query_counts": [heavy.query_counts, light.query_counts],
    }
    if heavy.queries != light.queries:
        detail["query_difference"] = _shape_difference(heavy, light)
    return report.judged(
        "patient_page.queries",
        "admin patient page, 200 appointments, 50 notes, 20 orders, 10 allergies, 100 questionnaires, 20 diagnoses, 10 plan versions: queries",
        "patient with 1 of each",
        "queries",
        report.same_count(),
        figure=heavy.queries,
        control=light.queries,
        note=f"time {heavy.ms:,.0f} vs {light.ms:,.0f} ms",
        detail=detail,
    )


# --- every page, as a superuser and as a care-restricted clinician -----------------------------

SUPERUSER, CLINICIAN, SUPERVISOR = "superuser", "clinician", "supervisor"


@dataclasses.dataclass(frozen=True)
class Page:
    """One admin page the `pages` rows time, and who it is requested as."""

    key: str
    label: str
    viewers: tuple[str, ...] = (SUPERUSER, CLINICIAN)
    same_queries: bool = True  # whether its query count must equal its control's


PAGES = (
    Page("patients", "patient changelist"),
    Page("appointments_today", "appointment changelist (today, as it opens)"),
    Page("appointments", "appointment changelist (any date)"),
    Page("series", "appointment series changelist"),
    Page("notes", "clinical note changelist"),
    Page("orders", "medication order changelist"),
    Page("allergies", "allergy changelist"),
    Page("access_log", "access log changelist", (SUPERUSER,)),  # no care role may open it
    Page("patient_history", "a patient's history page"),
    Page("appointment_history", "an appointment's history page"),
    Page("note_history", "a clinical note's history page"),
    Page("order_history", "a medication order's history page"),
    Page("patient_page", "a patient's page"),
    Page("note_page", "a clinical note's page"),
    Page("week", "a clinician's week calendar"),
    Page("free_slots", "the free-slot finder"),
    # As the superuser (no requests) and as a supervisor with COSIGN_REQUESTS awaiting them.
    Page("cosignature_queue", "the co-signature queue", (SUPERUSER, SUPERVISOR)),
    # Eight queries plus five per access-log entry, one per panel that lists a patient: how many
    # do depends on today's data (clinic/tests/integration/test_dashboard.py holds the rule).
    Page("dashboard", "admin index (dashboard)", same_queries=False),
)


def page_row_keys() -> list[str]:
    """Return the keys of the rows `pages_rows` returns."""
    return [f"pages.{page.key}.{viewer}" for page in PAGES for viewer in page.viewers] + ["pages.queries"]


def page_urls(clinician) -> dict[str, str]:
    """Return each page's address in the current database, for a patient in `clinician`'s care."""
    patient_id = (
        patient_models.CareAssignment.objects.filter(clinician=clinician, ended_at__isnull=True)
        .order_by("patient_id")
        .values_list("patient_id", flat=True)
        .first()
    )
    records = {
        "appointment": appointment_models.Appointment.objects.filter(patient_id=patient_id),
        # A signed note (a draft's page differs); not another author's psychotherapy note.
        "note": note_models.ClinicalNote.objects.filter(patient_id=patient_id, status="signed").exclude(
            kind=note_models.PSYCHOTHERAPY
        ),
        "order": medication_models.MedicationOrder.objects.filter(patient_id=patient_id),
    }
    ids = {name: rows.order_by("pk").values_list("pk", flat=True).first() for name, rows in records.items()}
    if patient_id is None or None in ids.values():
        raise RuntimeError(f"The measured clinician's first patient lacks a record to open: {ids}.")
    return {
        "patients": reverse("admin:patients_patient_changelist"),
        "appointments_today": reverse("admin:appointments_appointment_changelist"),
        "appointments": reverse("admin:appointments_appointment_changelist") + "?start__any=1",
        "series": reverse("admin:appointments_appointmentseries_changelist"),
        "notes": reverse("admin:clinical_notes_clinicalnote_changelist"),
        "orders": reverse("admin:medications_medicationorder_changelist"),
        "allergies": reverse("admin:medications_allergy_changelist"),
        "access_log": reverse("admin:novamind_accesslogentry_changelist"),
        "patient_history": reverse("admin:patients_patient_history", args=[patient_id]),
        "appointment_history": reverse("admin:appointments_appointment_history", args=[ids["appointment"]]),
        "note_history": reverse("admin:clinical_notes_clinicalnote_history", args=[ids["note"]]),
        "order_history": reverse("admin:medications_medicationorder_history", args=[ids["order"]]),
        "patient_page": reverse("admin:patients_patient_change", args=[patient_id]),
        "note_page": reverse("admin:clinical_notes_clinicalnote_change", args=[ids["note"]]),
        "week": reverse("admin:appointments_appointment_week") + f"?clinician={clinician.pk}",
        "free_slots": reverse("admin:appointments_appointment_free_slots") + f"?clinician={clinician.pk}",
        "cosignature_queue": reverse("admin:clinical_notes_clinicalnote_cosignature_queue"),
        "dashboard": reverse("admin:index"),
    }


def pages_samples(
    databases: dict[str, tuple[str, object]], repeat: int
) -> dict[str, dict[tuple[str, str], PageSample]]:
    """Return every page of PAGES measured in each database, {key: (database name, its data.Clinic)}.

    The databases take turns, one round of every page each; the first round warms up and is
    not counted. Each turn signs the viewers in afresh.
    """
    viewers, urls = {}, {}
    for key, (name, clinic) in databases.items():
        database.use(name)
        viewers[key] = {SUPERUSER: clinic.admin, CLINICIAN: clinic.care_clinician, SUPERVISOR: clinic.supervisor}
        urls[key] = page_urls(clinic.care_clinician)
    samples = {
        key: {(page.key, viewer): PageSample(urls[key][page.key]) for page in PAGES for viewer in page.viewers}
        for key in databases
    }
    for round_number in range(repeat + 1):
        for key, (name, _) in databases.items():
            database.use(name)
            for viewer, user in viewers[key].items():
                client = admin_client(user)
                for page in PAGES:
                    if viewer not in page.viewers:
                        continue
                    sample = samples[key][(page.key, viewer)]
                    if round_number == 0:
                        client.get(sample.url)
                    else:
                        request(client, sample.url, sample)
    return samples


def pages_rows(
    full: dict[tuple[str, str], PageSample],
    control: dict[tuple[str, str], PageSample],
    *,
    patients: int,
    control_patients: int,
) -> list[report.Row]:
    """Return one time row per page and viewer (≤ 1.5x), and one row for their query counts."""
    labels = {page.key: page.label for page in PAGES}
    counted = {page.key for page in PAGES if page.same_queries}
    rows, differences = [], {}
    for (page, viewer), sample in full.items():
        other = control[(page, viewer)]
        if page in counted and sample.queries != other.queries:
            differences[f"{page}.{viewer}"] = _shape_difference(sample, other)
        rows.append(
            report.judged(
                f"pages.{page}.{viewer}",
                f"{labels[page]} as {viewer} at {patients:,} patients: median time",
                f"same page at {control_patients:,} patients",
                "ms",
                report.at_most(1.5),
                figure=sample.ms,
                control=other.ms,
                note=f"{sample.queries} vs {other.queries} queries"
                + (f"; lists {sample.rows} vs {other.rows} rows" if sample.rows != other.rows else ""),
                detail={
                    "url": sample.url,
                    "rows_listed": [sample.rows, other.rows],
                    "bytes": [sample.bytes, other.bytes],
                    "query_counts": [sample.query_counts, other.query_counts],
                },
            )
        )
    rows.append(
        report.judged(
            "pages.queries",
            f"the pages above (the dashboard aside) at {patients:,} patients: pages with their control's query count",
            f"every page, at {control_patients:,} patients",
            "pages",
            report.same_count(),
            figure=sum(page in counted for page, _ in full) - len(differences),
            control=sum(page in counted for page, _ in control),
            detail={"query_difference": differences} if differences else {},
        )
    )
    return rows


# --- search -------------------------------------------------------------------------------------


def _plain_name(sample) -> Q:
    normalized = blind_index.normalize_text(f"{sample.first} {sample.last}")
    return Q(full_name=normalized) | Q(preferred_full_name=normalized) | Q(last_name=normalized)


def _plain_phone(sample) -> Q:
    e164 = patient_domain.normalize_phone(sample.phone_national, settings.NOVAMIND_DEFAULT_PHONE_REGION)
    return Q(phone=blind_index.normalize_phone(e164))


def search_rows(
    samples, *, patients: int, repeat: int, terms: int = 100, control_reads=contextlib.nullcontext
) -> list[report.Row]:
    """Return one row per searched detail: the blind-index search against a plaintext index.

    The figure is the project's search (`patients.repository.search_query`, which the admin
    search box and `DjangoPatientRepository.search` both use: normalise, HMAC, B-tree lookup);
    the control looks the same normalised value up in the plaintext control table. Both return
    the matching patients' ids and MRNs, and must return the same ones. Decrypting the matches
    is not search: `repository.search`, which also decrypts them, is reported in the detail.
    The last row is prefix search: the first 3 letters of the last name and the birth year
    ("gar 1984"), against LIKE 'gar%' and the year's dates on the control's B-trees.
    The control's reads run inside `control_reads()` (the replica, when the run has one).
    """
    chosen = samples[:terms]
    criteria = {
        "name": ("full name", lambda s: {"name": f"{s.first} {s.last}"}, _plain_name),
        "date_of_birth": (
            "date of birth",
            lambda s: {"date_of_birth": s.date_of_birth},
            lambda s: Q(date_of_birth=s.date_of_birth),
        ),
        "phone": ("phone", lambda s: {"phone": s.phone_national}, _plain_phone),
    }
    rows = []
    for criterion, (label, terms_of, plain_query) in criteria.items():
        figure, control, detail = _compare_searches(chosen, terms_of, plain_query, repeat, label, control_reads)
        if criterion == "name":
            detail["repository_search_with_decryption_ms"] = _repository_search_ms(chosen, terms_of, repeat)
        rows.append(
            report.judged(
                f"search.{criterion}",
                f"exact search by {label} at {patients:,} patients (blind index), median",
                "plaintext indexed column, control table",
                "ms",
                report.at_most(2.0),
                figure=figure,
                control=control,
                detail=detail,
            )
        )
    figure, control, detail = _compare_searches(chosen, _prefix_terms, _plain_prefix, repeat, "prefix", control_reads)
    detail["repository_search_with_decryption_ms"] = _repository_search_ms(chosen, _prefix_terms, repeat)
    rows.append(
        report.judged(
            "search.prefix",
            f"prefix search, 3 letters of the last name + birth year, at {patients:,} patients (blind index), median",
            "LIKE 'gar%' + year range on plaintext indexed columns, control table",
            "ms",
            report.at_most(2.0),
            figure=figure,
            control=control,
            detail=detail,
        )
    )
    return rows


def _prefix_terms(sample) -> dict:
    return {"last_name_prefix": sample.last[:3], "birth_year": sample.date_of_birth.year}


def _plain_prefix(sample) -> Q:
    # The control column holds the name as the blind index normalises it, so LIKE is ILIKE here;
    # the bench's surnames are one word, so its spaces need no removing.
    year = sample.date_of_birth.year
    return Q(
        last_name__startswith=blind_index.normalize_prefix(sample.last)[:3],
        date_of_birth__gte=dt.date(year, 1, 1),
        date_of_birth__lt=dt.date(year + 1, 1, 1),
    )


def _compare_searches(
    chosen, terms_of, plain_query, repeat: int, label: str, control_reads
) -> tuple[float, float, dict]:
    """Time the blind-index search and its plaintext control for each sample; return their medians and details."""
    figures, controls, matches = [], [], []
    for sample in chosen:
        criteria = terms_of(sample)

        def figure(criteria=criteria):
            query = patient_repository.search_query(**criteria)
            return list(patient_models.Patient.objects.filter(query).values_list("id", "mrn"))

        def control(sample=sample):
            with control_reads():
                return list(PlainPatient.objects.filter(plain_query(sample)).values_list("id", "mrn"))

        found, expected = set(figure()), set(control())
        if found != expected or sample.id not in {pk for pk, _ in found}:
            raise RuntimeError(f"search by {label}: the blind index and the plaintext control disagree.")
        matches.append(len(found))
        pair = paired(figure, control, repeat)
        figures.extend(pair[0])
        controls.extend(pair[1])
    detail = {"terms": len(chosen), "repetitions": repeat, "matches_median": report.median(matches)}
    return report.median(figures), report.median(controls), detail


def _repository_search_ms(samples, terms_of, repeat: int) -> float:
    from django.contrib.auth import get_user_model

    actor = get_user_model().objects.get(username="bench_admin")
    repository = patient_repository.DjangoPatientRepository(actor=actor)
    times = [elapsed_ms(lambda s=s: repository.search(**terms_of(s))) for s in samples for _ in range(repeat)]
    return report.median(times)


# --- repository ---------------------------------------------------------------------------------


def repository_rows(
    actor, patient_ids, *, patients: int, repeat: int, seed: int = 7, control_reads=contextlib.nullcontext
) -> list[report.Row]:
    """Return the repository rows: `get_by_id` and `list(100)` against the plain ORM query.

    The plain queries, the control, run inside `control_reads()` (the replica, when the run has one).
    """
    rng = random.Random(seed)
    repository = patient_repository.DjangoPatientRepository(actor=actor)
    # The same rows and the same data the domain objects carry (who created and changed them).
    plain = patient_models.Patient.objects.select_related("created_by", "updated_by")
    ids = rng.sample(patient_ids, min(50, len(patient_ids)))
    figures, controls = [], []

    def get(pk):
        with control_reads():
            return plain.get(pk=pk)

    for patient_id in ids:
        pair = paired(lambda pk=patient_id: repository.get_by_id(pk), lambda pk=patient_id: get(pk), repeat)
        figures.extend(pair[0])
        controls.extend(pair[1])
    rows = [
        report.judged(
            "repository.get_by_id",
            "patients repository get_by_id (a domain Patient)",
            "Patient.objects.select_related(users).get(pk=…)",
            "ms",
            report.at_most(1.25),
            figure=report.median(figures),
            control=report.median(controls),
            detail={"ids": len(ids), "repetitions": repeat},
        )
    ]
    pages = list(range(1, min(10, patients // 100) + 1))
    figures, controls = [], []
    for page in pages:
        start = (page - 1) * 100

        def control(start=start):
            # The page a repository returns holds the total too: the ORM needs its count() as well.
            with control_reads():
                return list(plain.order_by("mrn")[start : start + 100]), plain.count()

        pair = paired(lambda page=page: repository.list(page=page, page_size=100), control, repeat)
        figures.extend(pair[0])
        controls.extend(pair[1])
    rows.append(
        report.judged(
            "repository.list",
            "patients repository list(page_size=100), pages 1–10",
            "same rows and total: .order_by('mrn')[offset:offset+100], .count()",
            "ms",
            report.at_most(1.25),
            figure=report.median(figures),
            control=report.median(controls),
            detail={"pages": pages, "repetitions": repeat},
        )
    )
    return rows


# --- history chain ------------------------------------------------------------------------------


def history_chain_row(actor, patient_ids, *, repeat: int, seed: int = 11) -> report.Row:
    """Return the cost of sealing a history row: a patient save with its seal against the same save without.

    Each save is what a staff edit does (`patients.services.patient_update`: policy, validation,
    the UPDATE, its history row), timed alone; the patient is read before the clock starts. The
    control is the very same save with the seal's signal handler disconnected, so the
    difference is the head lock, the digest and the head update. The two alternate, and which
    goes first alternates too.
    """
    from simple_history.signals import pre_create_historical_record

    from novamind import history_chain
    from patients import services as patient_services

    rng = random.Random(seed)
    repository = patient_repository.DjangoPatientRepository(actor=actor)
    ids = rng.sample(patient_ids, min(20, len(patient_ids)))
    timings: dict[bool, list[float]] = {True: [], False: []}

    def save(patient_id, sealed: bool, n: int) -> None:
        patient = repository.get_by_id(patient_id)
        changed = dataclasses.replace(patient, preferred_name=f"Bench {n} {'sealed' if sealed else 'control'}")
        if not sealed:
            pre_create_historical_record.disconnect(dispatch_uid=history_chain.SIGNAL_UID)
        try:
            timings[sealed].append(elapsed_ms(lambda: patient_services.patient_update(patient=changed, actor=actor)))
        finally:
            if not sealed:
                pre_create_historical_record.connect(history_chain.seal_instance, dispatch_uid=history_chain.SIGNAL_UID)

    for n in range(repeat + 1):
        for index, patient_id in enumerate(ids):
            order = (True, False) if (n + index) % 2 == 0 else (False, True)
            for sealed in order:
                save(patient_id, sealed, n)
    # The first round warms both paths up (the head row, the statement caches): it is not counted.
    figures, controls = timings[True][len(ids) :], timings[False][len(ids) :]
    return report.judged(
        "history_chain.save",
        "a patient save with its sealed history row (patient_update)",
        "the same save, its history row not sealed",
        "ms",
        report.at_most(1.3),
        figure=report.median(figures),
        control=report.median(controls),
        detail={"patients": len(ids), "repetitions": repeat},
    )


# --- schedule -----------------------------------------------------------------------------------


@dataclasses.dataclass
class ScheduleSample:
    """Day sheets and conflict checks of a few clinicians on a few days: times, queries, rows."""

    appointments: int
    day_sheet_times: list[float] = dataclasses.field(default_factory=list)
    conflict_times: list[float] = dataclasses.field(default_factory=list)
    day_sheet_queries: list[int] = dataclasses.field(default_factory=list)
    day_sheet_rows: list[int] = dataclasses.field(default_factory=list)
    conflict_queries: list[int] = dataclasses.field(default_factory=list)


def _schedule_cases(clinic, days: list[dt.date]):
    """Yield (day sheet, conflict check) callables for four clinicians on each of `days`.

    The day sheet is `appointments.schedule.day_sheet` (the admin's and `day_sheet`'s, with its
    access-log entries); the conflict check is `scheduling.booking_problems`, the one check every
    booking path calls, for a new appointment at 08:00, an hour no one uses, so it finds nothing.
    """
    repository = appointment_repository.DjangoAppointmentRepository(actor=clinic.admin)
    active = [pid for pid, is_active in zip(clinic.patient_ids, clinic.patient_active, strict=True) if is_active]
    for number, clinician in enumerate(clinic.clinicians[:4]):
        for day in days:
            start = dt.datetime.combine(day, dt.time(8), tzinfo=clinic.zone)
            candidate = appointment_domain.Appointment(
                patient_id=active[number],
                clinician_id=clinician.pk,
                start=start,
                end=start + dt.timedelta(minutes=50),
                room_id=clinic.rooms[number].pk,
            ).validated(longest=policy.longest())

            def sheet(clinician=clinician, day=day):
                return schedule.day_sheet(clinician=clinician, day=day, reader=clinic.admin)

            def check(candidate=candidate, now=start - dt.timedelta(days=1)):
                scheduling.booking_problems(candidate, appointments=repository, now=now)

            yield sheet, check


def schedule_samples(
    clinic, databases: dict[str, tuple[str, int]], days: list[dt.date], repeat: int
) -> dict[str, ScheduleSample]:
    """Time the same day sheets and conflict checks in each of `databases` (name, appointments).

    The databases take turns, one timed call of each case per turn after a warm-up call, so a
    change in the machine's load affects both alike.
    """
    samples = {key: ScheduleSample(appointments=count) for key, (_, count) in databases.items()}
    for turn in range(repeat):
        for key, (name, _) in databases.items():
            database.use(name)
            sample = samples[key]
            for sheet, check in _schedule_cases(clinic, days):
                if turn == 0:
                    with CaptureQueriesContext(connection) as captured:
                        rows = len(sheet().rows)
                    sample.day_sheet_queries.append(len(captured))
                    sample.day_sheet_rows.append(rows)
                    with CaptureQueriesContext(connection) as captured:
                        check()
                    sample.conflict_queries.append(len(captured))
                sheets, checks = paired(sheet, check, 1)
                sample.day_sheet_times.extend(sheets)
                sample.conflict_times.extend(checks)
    return samples


def schedule_rows(full: ScheduleSample, control: ScheduleSample) -> list[report.Row]:
    """Return the schedule rows: the day sheet and the conflict check at full size against the control."""
    if full.day_sheet_rows != control.day_sheet_rows:
        raise RuntimeError("The day sheets of the control days differ between the databases: not the same work.")
    return [
        report.judged(
            "schedule.day_sheet",
            f"clinician day schedule (day sheet) at {full.appointments:,} appointments",
            f"same days at {control.appointments:,}",
            "ms",
            report.at_most(2.0),
            figure=report.median(full.day_sheet_times),
            control=report.median(control.day_sheet_times),
            detail={
                "rows_per_sheet": full.day_sheet_rows,
                "queries": [full.day_sheet_queries, control.day_sheet_queries],
                "calls": len(full.day_sheet_times),
            },
        ),
        report.judged(
            "schedule.conflict_check",
            f"new-booking conflict check at {full.appointments:,} appointments",
            f"same checks at {control.appointments:,}",
            "ms",
            report.at_most(2.0),
            figure=report.median(full.conflict_times),
            control=report.median(control.conflict_times),
            detail={"queries": [full.conflict_queries, control.conflict_queries], "calls": len(full.conflict_times)},
        ),
    ]
