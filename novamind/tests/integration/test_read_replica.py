"""The read replica: where each query went, that nothing writes to it, and the fallback when it is down.

Most tests here need a real streaming replica of the test server (`.ci/start_replica`, then
DATABASE_REPLICA_URL=postgres://…@127.0.0.1:5433/<same database>). They are skipped with a
reason without one, and fail instead when NOVAMIND_REQUIRE_REPLICA=1 (CI). The test runner never
creates the replica's test database: the primary's streams to it (the alias is a test mirror).
Their rows must be committed for the replica to see them, so they are transactional tests, and
each waits until the replica has replayed the primary's last write before it reads.

The fallback test runs on both engines: it points the replica at a closed port.
"""

import datetime as dt
import io
import logging
import os
import socket
import time

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import DatabaseError, connections
from django.db.utils import load_backend
from django.test.utils import CaptureQueriesContext

from clinic import audit_report, dashboard, record_export
from novamind import access, db_router, roles
from novamind.models import AccessLogEntry, AccessLogHead
from novamind.tests.integration.role_users import member, superuser
from patients import domain as patients_domain
from patients import models as patients_models
from patients import repository as patients_repository

REPLICA_DATABASES = ["default", "replica"] if "replica" in settings.DATABASES else ["default"]
real_replica_db = pytest.mark.django_db(transaction=True, databases=REPLICA_DATABASES)
router = db_router.ReplicaRouter()
NAME = "Okafor"


def _missing(reason: str):
    if os.environ.get("NOVAMIND_REQUIRE_REPLICA") == "1":
        pytest.fail(reason + "; NOVAMIND_REQUIRE_REPLICA=1 requires the replica tests (CI)")
    pytest.skip(reason)


@pytest.fixture
def replica(on_postgres, settings):
    """A real streaming replica, with reporting reads turned on (the other tests keep them off)."""
    if "replica" not in connections.databases:
        _missing("no read replica: run .ci/start_replica and set DATABASE_REPLICA_URL (README, 'Scaling')")
    if in_recovery("replica") is not True:
        _missing("DATABASE_REPLICA_URL does not name a standby (pg_is_in_recovery() is false)")
    settings.NOVAMIND_REPLICA_READS = True
    db_router._down_until = 0.0
    return connections["replica"]


def in_recovery(alias: str) -> bool:
    """Return what the server behind `alias` says: is it a standby?"""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        return cursor.fetchone()[0]


def wait_for_replay(timeout: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary has written so far."""
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()")
        lsn = cursor.fetchone()[0]
    deadline = time.monotonic() + timeout
    while True:
        with connections["replica"].cursor() as cursor:
            cursor.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"the replica did not replay {lsn} within {timeout:.0f} s")
        time.sleep(0.05)


def a_patient(actor) -> patients_domain.Patient:
    return patients_repository.DjangoPatientRepository(actor=actor).add(
        patients_domain.Patient(legal_first_name="Robin", legal_last_name=NAME, date_of_birth=dt.date(1990, 5, 17))
    )


def statements(captured, *words: str) -> list[str]:
    return [query["sql"] for query in captured.captured_queries if all(word in query["sql"] for word in words)]


def writes(captured) -> list[str]:
    verbs = ("INSERT", "UPDATE", "DELETE", "TRUNCATE", "CREATE", "ALTER", "DROP")
    return [query["sql"] for query in captured.captured_queries if query["sql"].lstrip().upper().startswith(verbs)]


# --- where each query went ----------------------------------------------------------------------


@real_replica_db
def test_the_audit_report_is_read_on_the_replica_and_recorded_on_the_primary(replica):
    auditor = member("audra", roles.AUDITOR)
    patient = a_patient(superuser())
    wait_for_replay()
    scope = audit_report.scope_for(patient_mrn=patient.mrn)
    out = io.StringIO()
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        count = audit_report.run(scope=scope, actor=auditor, out=out)
    assert count >= 1 and "patients.patient" in out.getvalue()  # the registration, read on the replica
    assert in_recovery("replica") is True
    assert statements(on_replica, "patients_historicalpatient")
    assert not statements(on_primary, "patients_historicalpatient")
    # The report's own entry in the access log: written on the primary, and nothing on the replica.
    assert statements(on_primary, "INSERT", "novamind_accesslogentry")
    assert in_recovery(router.db_for_write(AccessLogEntry)) is False
    assert not writes(on_replica)
    assert AccessLogEntry.objects.using("default").filter(action=audit_report.ACTION).count() == 1


@real_replica_db
def test_the_dashboard_counts_are_read_on_the_replica(replica):
    manager = member("mina", roles.FRONT_DESK)
    wait_for_replay()
    # The day's first dashboard stores the past days' tallies (a cache, on the primary): from that
    # write on, the rest of its reads go to the primary too.
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        dashboard.for_user(manager)
    assert statements(on_primary, "INSERT", "appointments_daytally")
    assert statements(on_primary, "SELECT", "appointments_appointment")
    assert not writes(on_replica)
    wait_for_replay()
    # The next one finds them and writes nothing: every count is read on the replica.
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        board = dashboard.for_user(manager)
    assert board.trend is not None and board.schedule is not None
    assert statements(on_replica, "appointments_daytally")
    assert statements(on_replica, "appointments_appointment")
    assert not statements(on_primary, "appointments_")
    assert not writes(on_replica)
    assert in_recovery("replica") is True


@real_replica_db
def test_the_export_reads_on_the_replica_and_logs_the_disclosure_on_the_primary(replica):
    root = superuser()
    patient = a_patient(root)
    wait_for_replay()
    out = io.StringIO()
    with CaptureQueriesContext(replica) as on_replica, CaptureQueriesContext(connections["default"]) as on_primary:
        record_export.export(patient=patient, actor=root, format="json", out=out)
    assert patient.mrn in out.getvalue()
    assert statements(on_replica, "appointments_appointment")
    assert not statements(on_primary, "appointments_appointment")
    assert statements(on_primary, "INSERT", "novamind_accesslogentry")
    assert AccessLogEntry.objects.using("default").filter(action=record_export.DISCLOSURE_ACTION).count() == 1


@real_replica_db
def test_sessions_lockout_the_chain_and_emergency_grants_are_read_on_the_primary(replica):
    from axes.models import AccessAttempt

    with db_router.reporting_reads():
        assert in_recovery(router.db_for_read(patients_models.Patient)) is True  # the block does use the replica
        for model in (Session, AccessAttempt, AccessLogHead, patients_models.EmergencyAccessGrant):
            assert in_recovery(router.db_for_read(model)) is False, model


@real_replica_db
def test_writes_go_to_the_primary_and_a_block_that_wrote_reads_the_primary(replica):
    root = superuser()
    with db_router.reporting_reads():
        assert in_recovery(router.db_for_read(patients_models.Patient)) is True
        patient = a_patient(root)  # a write inside a reporting block
        entry = access.record(user=root, action="view", category="demographics", patient=patient)
        # Read its own write: the router now sends every read of the block to the primary.
        alias = router.db_for_read(patients_models.Patient)
        assert in_recovery(alias) is False
        assert patients_models.Patient.objects.filter(pk=patient.id).exists()
    assert AccessLogEntry.objects.using("default").filter(pk=entry.pk).exists()
    assert patients_models.Patient.objects.using("default").filter(pk=patient.id).exists()


@real_replica_db
def test_the_replica_refuses_a_direct_write_and_the_router_never_picks_it_for_one(replica):
    for model in (patients_models.Patient, AccessLogEntry, AccessLogHead, Session):
        with db_router.reporting_reads():
            assert router.db_for_write(model) == "default"
    with pytest.raises(DatabaseError, match="read-only"), replica.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE nothing_here (id int)")
    assert router.allow_migrate("replica", "patients", "patient") is False


# --- the fallback ------------------------------------------------------------------------------


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["unpooled", "pooled"])
def replica_down(request, db, settings, monkeypatch):
    """Configure a replica on a closed port, under an alias of its own (a real replica stays untouched).

    Pooled as production is by default (the pool's wait shortened to a second), and unpooled.
    """
    alias = "replica_down"
    options = {"connect_timeout": 2, "sslmode": "disable"}
    if request.param == "pooled":
        options["pool"] = {"min_size": 1, "max_size": 2, "timeout": 1.0}
    down = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": closed_port(),
        "NAME": "novamind",
        "USER": "novamind",
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,
    }
    configured = connections.configure_settings({"default": dict(connections.databases["default"]), alias: down})
    # A connection made here, outside DATABASES: the test case lets such connections through.
    connections[alias] = load_backend(down["ENGINE"]).DatabaseWrapper(configured[alias], alias)
    monkeypatch.setattr(db_router, "REPLICA", alias)
    monkeypatch.setattr(db_router, "configured", lambda: True)
    monkeypatch.setattr(db_router, "_down_until", 0.0)
    settings.NOVAMIND_REPLICA_READS = True
    yield alias
    connections[alias].close()
    if request.param == "pooled":
        connections[alias].close_pool()
    del connections[alias]


@pytest.mark.django_db
def test_reporting_reads_fall_back_to_the_primary_when_the_replica_is_down(replica_down, caplog):
    auditor = member("audra", roles.AUDITOR)
    patient = a_patient(superuser())
    scope = audit_report.scope_for(patient_mrn=patient.mrn)
    with caplog.at_level(logging.WARNING, logger="novamind.database"):
        with db_router.reporting_reads():
            assert router.db_for_read(patients_models.Patient) == "default"
        first, second = io.StringIO(), io.StringIO()
        audit_report.run(scope=scope, actor=auditor, out=first)
        audit_report.run(scope=scope, actor=auditor, out=second)
    # The report is whole, read on the primary (the test's rows were never committed anywhere else).
    assert "patients.patient" in first.getvalue() and patient.mrn in first.getvalue()
    warnings = [record.getMessage() for record in caplog.records if record.name == "novamind.database"]
    # One line, then the replica is left alone for NOVAMIND_REPLICA_RETRY_SECONDS.
    assert len(warnings) == 1
    assert "read replica is unavailable" in warnings[0]
    assert NAME not in warnings[0] and patient.mrn not in warnings[0]


@pytest.mark.django_db
def test_the_replica_is_tried_again_after_the_retry_window(replica_down, caplog, monkeypatch):
    with caplog.at_level(logging.WARNING, logger="novamind.database"):
        assert db_router.replica_alias() == "default"
        monkeypatch.setattr(db_router, "_down_until", 0.0)  # the window has passed
        assert db_router.replica_alias() == "default"
    assert len([record for record in caplog.records if record.name == "novamind.database"]) == 2
