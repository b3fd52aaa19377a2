"""Where the controls read: the replica's URL, the wait for its replay, the report's line. No database."""

import pytest

from bench import replica


def test_the_replica_url_is_the_benchmarks_own_login_on_the_replicas_host_and_port():
    # CI: the bench runs as the owner, who created the throwaway database and its control table;
    # DATABASE_REPLICA_URL names the application role, which may not read the control table.
    server = "postgres://novamind_ci_owner:secret@127.0.0.1:5432/novamind_ci?pool=false"
    url = replica.replica_url(server, "postgres://novamind_ci_app@127.0.0.1:5433/novamind_ci", "nm_bench_42")
    assert url == "postgres://novamind_ci_owner:secret@127.0.0.1:5433/nm_bench_42?pool=false"
    assert replica.replica_url("postgres://db.example/x", "postgres://u@standby.example/x", "n") == (
        "postgres://standby.example/n"
    )


def test_an_address_names_the_default_port_when_the_url_names_none():
    assert replica.address("postgres://u@127.0.0.1:5433/db") == "127.0.0.1:5433"
    assert replica.address("postgres://u@standby.example/db") == "standby.example:5432"


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_the_wait_ends_once_the_replica_has_replayed_the_primarys_position():
    clock, asked, behind = FakeClock(), [], iter([4096, 512, 0])

    def bytes_behind(lsn):
        asked.append(lsn)
        return next(behind)

    waited = replica.wait_for_replay(
        primary_lsn=lambda: "0/49E7FE0",
        bytes_behind=bytes_behind,
        where="127.0.0.1:5433",
        poll=0.5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert waited == 1.0 and asked == ["0/49E7FE0"] * 3  # the primary's position is read once, before waiting


def test_a_replica_that_does_not_catch_up_in_time_is_a_clear_error():
    clock = FakeClock()
    with pytest.raises(replica.ReplicaLagging) as lagging:
        replica.wait_for_replay(
            primary_lsn=lambda: "0/5000000",
            bytes_behind=lambda lsn: 8192,
            where="127.0.0.1:5433",
            timeout=3,
            poll=1,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(lagging.value)
    assert "127.0.0.1:5433" in message and "0/5000000" in message and "within 3 s" in message
    assert "8,192 bytes behind" in message and "--replica-timeout" in message
    assert clock.now == 3  # bounded: it gave up at the timeout


def test_a_server_with_no_replay_position_is_no_standby():
    with pytest.raises(replica.ReplicaLagging, match="not a streaming standby"):
        replica.wait_for_replay(primary_lsn=lambda: "0/1", bytes_behind=lambda lsn: None, where="127.0.0.1:5432")


def test_the_report_says_where_the_controls_read_and_how_many_queries_went_there():
    on_replica = replica.Placement(alias="replica", address="127.0.0.1:5433", in_recovery=True)
    assert on_replica.text() == "controls read from the replica at 127.0.0.1:5433, in recovery: true"
    on_replica.queries = {"replica": 1340}
    assert on_replica.text().endswith("(their queries: 1,340 on the replica)")
    on_primary = replica.Placement(
        alias="default", address="127.0.0.1:5432", in_recovery=False, why="DATABASE_REPLICA_URL is not set"
    )
    assert on_primary.text() == (
        "controls read from the primary at 127.0.0.1:5432, in recovery: false; DATABASE_REPLICA_URL is not set"
    )
    assert on_primary.as_json()["text"] == on_primary.text() and "active" not in on_primary.as_json()


def test_only_the_queries_of_a_controls_reads_are_counted():
    placement = replica.Placement(alias="replica", address="127.0.0.1:5433", in_recovery=True)
    count = placement.count("replica")

    def execute(sql, params, many, context):
        return sql

    assert count(execute, "SELECT 1", None, False, {}) == "SELECT 1"
    placement.active = True
    count(execute, "SELECT 2", None, False, {})
    count(execute, "SELECT 3", None, False, {})
    assert placement.queries == {"replica": 2}
