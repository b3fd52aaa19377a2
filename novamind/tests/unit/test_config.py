"""Configuration rules: development keys are recognisable, database options are safe."""

import environ
import pytest

from novamind import config


def make_env(monkeypatch, **values):
    for name in (
        "DATABASE_SSLMODE",
        "DATABASE_SSLROOTCERT",
        "DATABASE_POOL",
        "DATABASE_HEALTH_CHECKS",
        "DATABASE_POOL_MIN_SIZE",
        "DATABASE_POOL_MAX_SIZE",
        "DATABASE_POOL_TIMEOUT",
        "DATABASE_POOL_MAX_LIFETIME",
        "DATABASE_CONNECT_TIMEOUT",
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return environ.Env()


def postgres(url="postgres://u:p@db.example.org:5432/novamind"):
    return environ.Env.db_url_config(url)


def test_generated_development_keys_are_marked_so_production_can_refuse_them():
    keys = config.generate_development_keys()
    assert keys["SECRET_KEY"].startswith("django-insecure-")
    assert config.is_development_fernet_key(keys["FIELD_ENCRYPTION_KEY"])
    assert keys["BLIND_INDEX_KEY"].startswith(config.DEV_BLIND_INDEX_PREFIX)
    assert keys["AUDIT_LOG_KEY"] != keys["BLIND_INDEX_KEY"]


def test_a_real_fernet_key_is_not_taken_for_a_development_key():
    from cryptography.fernet import Fernet

    assert not config.is_development_fernet_key(Fernet.generate_key().decode())
    assert not config.is_development_fernet_key("not base64 at all!")


def test_development_keys_are_written_once_to_the_env_file(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env = make_env(monkeypatch)
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "BLIND_INDEX_KEY", "AUDIT_LOG_KEY"):
        monkeypatch.delenv(name, raising=False)
    config.ensure_development_keys(env_file, env)
    first = env_file.read_text()
    assert first.count("FIELD_ENCRYPTION_KEY=") == 1
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    config.ensure_development_keys(env_file, env)  # the environment now holds them
    assert env_file.read_text() == first


def test_a_key_list_keeps_its_order_so_the_first_key_encrypts():
    assert config.parse_key_list(" new , old ") == ["new", "old"]
    assert config.parse_key_list("") == [config.MISSING_PLACEHOLDER_FERNET]


def test_postgres_gets_a_pool_with_a_thirty_minute_lifetime_and_no_persistent_connections(monkeypatch):
    options = config.database_options(make_env(monkeypatch), postgres(), production=True)
    assert options["CONN_MAX_AGE"] == 0
    assert options["CONN_HEALTH_CHECKS"] is True
    assert options["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 15, "timeout": 5.0, "max_lifetime": 1800.0}
    assert options["OPTIONS"]["sslmode"] == "require"


def test_a_request_waits_a_few_seconds_for_an_unreachable_database_not_thirty(monkeypatch):
    options = config.database_options(make_env(monkeypatch), postgres(), production=True)["OPTIONS"]
    assert options["pool"]["timeout"] <= 5
    assert options["connect_timeout"] <= 5


def test_both_database_waits_can_be_configured(monkeypatch):
    env = make_env(monkeypatch, DATABASE_POOL_TIMEOUT="2.5", DATABASE_CONNECT_TIMEOUT="3")
    options = config.database_options(env, postgres(), production=True)["OPTIONS"]
    assert options["pool"]["timeout"] == 2.5
    assert options["connect_timeout"] == 3


def test_a_connection_without_the_pool_also_gives_up_after_the_connect_timeout(monkeypatch):
    env = make_env(monkeypatch, DATABASE_POOL="false", DATABASE_CONNECT_TIMEOUT="4")
    assert config.database_options(env, postgres(), production=True)["OPTIONS"]["connect_timeout"] == 4


def test_tls_can_be_verified_against_a_root_certificate(monkeypatch):
    env = make_env(monkeypatch, DATABASE_SSLMODE="verify-full", DATABASE_SSLROOTCERT="/etc/ssl/db-root.pem")
    options = config.database_options(env, postgres(), production=True)["OPTIONS"]
    assert options["sslmode"] == "verify-full" and options["sslrootcert"] == "/etc/ssl/db-root.pem"


def test_false_flags_in_the_environment_really_switch_pool_and_health_checks_off(monkeypatch):
    env = make_env(monkeypatch, DATABASE_POOL="false", DATABASE_HEALTH_CHECKS="false")
    options = config.database_options(env, postgres(), production=False)
    assert "pool" not in options["OPTIONS"]
    assert options["CONN_HEALTH_CHECKS"] is False
    assert options["OPTIONS"]["sslmode"] == "prefer"


def test_pool_and_health_flags_in_the_url_are_dropped_instead_of_passed_as_strings(monkeypatch):
    url = "postgres://u:p@h/db?pool=true&conn_health_checks=false&conn_max_age=600"
    database = postgres(url)
    options = config.database_options(make_env(monkeypatch), database, production=False)
    assert set(options["OPTIONS"]) == {"sslmode", "connect_timeout", "pool"}
    assert isinstance(options["OPTIONS"]["pool"], dict)


@pytest.mark.parametrize("url", ["sqlite:////tmp/x.sqlite3"])
def test_sqlite_needs_no_pool(monkeypatch, url):
    options = config.database_options(make_env(monkeypatch), environ.Env.db_url_config(url), production=False)
    assert options == {"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": False}


def test_no_replica_url_means_no_replica(monkeypatch):
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    assert config.replica_database(make_env(monkeypatch), production=False) is None


def test_the_replica_is_parsed_like_the_primary_and_is_never_created_by_the_test_runner(monkeypatch):
    env = make_env(monkeypatch, DATABASE_REPLICA_URL="postgres://app@replica.example.org:5433/novamind")
    replica = config.replica_database(env, production=True)
    assert (replica["HOST"], replica["PORT"], replica["NAME"]) == ("replica.example.org", 5433, "novamind")
    assert replica["OPTIONS"]["sslmode"] == "require"  # the primary's TLS rule, in production
    assert replica["OPTIONS"]["pool"]["max_size"] == 15
    # A test mirror of default: the runner points it at the test database's name and stops there.
    assert replica["TEST"] == {"MIRROR": "default"}


def test_the_replica_follows_the_configured_tls_mode(monkeypatch):
    env = make_env(
        monkeypatch, DATABASE_REPLICA_URL="postgres://app@127.0.0.1:5433/novamind", DATABASE_SSLMODE="disable"
    )
    assert config.replica_database(env, production=False)["OPTIONS"]["sslmode"] == "disable"


def test_server_side_cursors_stay_on_unless_a_transaction_pooler_says_otherwise(monkeypatch):
    assert config.database_options(make_env(monkeypatch), postgres(), False)["DISABLE_SERVER_SIDE_CURSORS"] is False
    env = make_env(monkeypatch, DATABASE_DISABLE_SERVER_SIDE_CURSORS="true")
    assert config.database_options(env, postgres(), False)["DISABLE_SERVER_SIDE_CURSORS"] is True
