"""Production mode refuses to start with missing or development keys, or without TLS."""

import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from novamind import checks, config

GOOD = dict(
    PRODUCTION=True,
    DEBUG=False,
    SECRET_KEY="p" * 64,
    FIELD_ENCRYPTION_KEY=[Fernet.generate_key().decode()],
    BLIND_INDEX_KEY="b" * 48,
    AUDIT_LOG_KEY="a" * 48,
)
TLS_DATABASE = {
    "default": {"ENGINE": "django.db.backends.postgresql", "HOST": "db.internal", "OPTIONS": {"sslmode": "require"}}
}


def ids(**overrides):
    with override_settings(**{**GOOD, **overrides}):
        return sorted(
            {message.id for message in checks._key_errors()} | ({"novamind.E009"} if overrides.get("DEBUG") else set())
        )


def test_good_production_keys_pass():
    assert ids() == []


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"SECRET_KEY": config.MISSING_PLACEHOLDER_SECRET}, "novamind.E001"),
        ({"SECRET_KEY": "django-insecure-dev-" + "x" * 50}, "novamind.E002"),
        ({"FIELD_ENCRYPTION_KEY": [config.MISSING_PLACEHOLDER_FERNET]}, "novamind.E003"),
        ({"FIELD_ENCRYPTION_KEY": ["not-a-key"]}, "novamind.E004"),
        ({"FIELD_ENCRYPTION_KEY": [config.generate_development_keys()["FIELD_ENCRYPTION_KEY"]]}, "novamind.E005"),
        ({"BLIND_INDEX_KEY": ""}, "novamind.E006"),
        ({"BLIND_INDEX_KEY": "dev-" + "x" * 40}, "novamind.E007"),
        ({"AUDIT_LOG_KEY": ""}, "novamind.E012"),
        ({"AUDIT_LOG_KEY": "b" * 48}, "novamind.E013"),
    ],
)
def test_each_unsafe_key_is_a_start_up_error(overrides, expected):
    assert expected in ids(**overrides)


def test_the_production_check_is_silent_in_development():
    with override_settings(PRODUCTION=False, SECRET_KEY=config.MISSING_PLACEHOLDER_SECRET):
        assert checks.check_production_configuration() == []


def test_production_needs_a_checkpoint_directory_outside_the_database():
    with override_settings(NOVAMIND_AUDIT_CHECKPOINT_DIR=None):
        assert [message.id for message in checks._checkpoint_errors()] == ["novamind.E050"]
    with override_settings(NOVAMIND_AUDIT_CHECKPOINT_DIR="/mnt/worm/novamind"):
        assert checks._checkpoint_errors() == []


def test_a_remote_database_without_tls_is_refused_in_production():
    remote = {**TLS_DATABASE["default"], "OPTIONS": {"sslmode": "disable"}}
    assert [m.id for m in checks._tls_errors({"default": remote})] == ["novamind.E021"]
    # Loopback, as CI uses: the operator said disable, and nothing crosses a network.
    assert checks._tls_errors({"default": {**remote, "HOST": "127.0.0.1"}}) == []
    assert checks._tls_errors(TLS_DATABASE) == []
    sqlite = {"default": {"ENGINE": "django.db.backends.sqlite3"}}
    assert [m.id for m in checks._tls_errors(sqlite)] == ["novamind.E020"]
