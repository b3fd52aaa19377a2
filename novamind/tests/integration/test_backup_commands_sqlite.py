"""On SQLite, backup_database and restore_drill refuse clearly: they are pg_dump and pg_restore's work."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from novamind.tests.integration.role_users import superuser

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_sqlite():
    if connection.vendor != "sqlite":
        pytest.skip("the refusal of the embedded database: run without DATABASE_URL")


@pytest.mark.parametrize("command", ["backup_database", "restore_drill"])
def test_the_backup_commands_refuse_the_embedded_database_clearly(on_sqlite, command, settings, tmp_path):
    settings.NOVAMIND_BACKUP_RECIPIENT = "age1qhwtty57ywpwvqtve6s09t09sm6pvjqvaekc8eh49yl2dr5p057s35mm4w"
    superuser("ops")
    with pytest.raises(CommandError, match=r"PostgreSQL databases with pg_dump; the configured database is sqlite"):
        call_command(command, "--actor", "ops", "--dir", str(tmp_path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["backup_database", "restore_drill"])
def test_only_a_superuser_may_back_up_or_drill(command, tmp_path):
    from conftest import make_staff

    make_staff("clerk")
    with pytest.raises(CommandError, match="only a superuser may"):
        call_command(command, "--actor", "clerk", "--dir", str(tmp_path))
