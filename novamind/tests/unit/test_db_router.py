"""The read replica's router: only marked reporting reads go to the replica, never a write."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from novamind import db_router
from novamind.models import AccessLogEntry, AccessLogHead
from patients.models import CareAssignment, EmergencyAccessGrant, Patient

router = db_router.ReplicaRouter()


@pytest.fixture
def replica_up(monkeypatch):
    """A configured replica that answers (no connection is made)."""
    monkeypatch.setattr(db_router, "configured", lambda: True)
    monkeypatch.setattr(db_router, "replica_alias", lambda: db_router.REPLICA)


def test_reads_go_to_the_primary_unless_a_call_site_marks_them_as_reporting(replica_up):
    assert router.db_for_read(Patient) == "default"
    with db_router.reporting_reads():
        assert router.db_for_read(Patient) == "replica"
        assert router.db_for_read(AccessLogEntry) == "replica"  # the audit report reads the log
    assert router.db_for_read(Patient) == "default"


def test_writes_always_go_to_the_primary(replica_up):
    with db_router.reporting_reads():
        assert router.db_for_write(Patient) == "default"
        assert router.db_for_write(AccessLogEntry) == "default"


def test_a_block_that_has_written_reads_nothing_more_from_the_replica(replica_up):
    with db_router.reporting_reads():
        router.db_for_write(AccessLogEntry)
        assert router.db_for_read(Patient) == "default"
    with db_router.reporting_reads():  # a new block, a new scope
        assert router.db_for_read(Patient) == "replica"


def test_a_request_that_has_written_reads_nothing_more_from_the_replica(replica_up):
    with db_router.request_scope():
        router.db_for_write(Patient)  # e.g. a save before the page is drawn
        with db_router.reporting_reads():
            assert router.db_for_read(Patient) == "default"
    with db_router.request_scope(), db_router.reporting_reads():
        assert router.db_for_read(Patient) == "replica"


def test_the_middleware_gives_each_request_its_own_scope(replica_up):
    seen = []

    def view(request):
        with db_router.reporting_reads():
            seen.append(router.db_for_read(Patient))
            router.db_for_write(Patient)
            seen.append(router.db_for_read(Patient))
        return "response"

    middleware = db_router.RequestScopeMiddleware(view)
    assert middleware(object()) == "response"
    assert middleware(object()) == "response"
    assert seen == ["replica", "default", "replica", "default"]


@pytest.mark.parametrize(
    "model", [Session, AccessLogHead, EmergencyAccessGrant, CareAssignment], ids=lambda model: model.__name__
)
def test_what_must_read_its_own_writes_or_decides_access_is_read_on_the_primary(replica_up, model):
    with db_router.reporting_reads():
        assert router.db_for_read(model) == "default"


def test_the_lockout_is_read_on_the_primary(replica_up):
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    with db_router.reporting_reads():
        assert {router.db_for_read(model) for model in (AccessAttempt, AccessFailureLog, AccessLog)} == {"default"}


def test_without_a_replica_the_router_decides_nothing(monkeypatch):
    monkeypatch.setattr(db_router, "configured", lambda: False)
    with db_router.reporting_reads():
        assert router.db_for_read(get_user_model()) is None


def test_the_replica_is_never_migrated():
    assert router.allow_migrate("replica", "patients", "patient") is False
    assert router.allow_migrate("default", "patients", "patient") is None
