"""Least privilege in PostgreSQL: the application role can only append to the audit trail (issue 15, finding 3)."""

import io
import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from conftest import TEST_DATABASE_OWNER, make_staff
from novamind import access, checks, dbroles, partitions
from novamind.models import AccessLogHead, StaffProfile

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_postgres")]

ACCESS_LOG = "novamind_accesslogentry"
HISTORY = "novamind_historicalstaffprofile"

# What an insider holding the application's password would try first.
TAMPERING = {
    "update": "UPDATE {table} SET id = id WHERE false",
    "delete": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table}",
    "disable triggers": "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "drop the truncate guard": f"DROP TRIGGER {dbroles.TRUNCATE_GUARD} ON {{table}}",
    "rename": "ALTER TABLE {table} RENAME TO {table}_gone",
}


def refused(sql):
    """Return the database's refusal of `sql` (inside a savepoint, so the test goes on)."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(refusal.value)


def some_history(staff):
    """Write an access-log entry and a history row through the application's own paths."""
    from novamind import audit

    access.record(user=staff, action="view", category="demographics", detail="roles test")
    audit.audited_save(StaffProfile(user=make_staff("drrole"), credentials="LCSW"), actor=staff)


@pytest.mark.parametrize("attempt", sorted(TAMPERING))
@pytest.mark.parametrize("table", [ACCESS_LOG, HISTORY])
def test_the_application_role_cannot_change_empty_or_unprotect_an_audit_table(application_role, table, attempt):
    message = refused(TAMPERING[attempt].format(table=table))
    assert "permission denied" in message or "must be owner" in message


def test_the_application_role_appends_to_the_audit_trail_and_reads_it(application_role, staff):
    some_history(staff)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ACCESS_LOG} WHERE detail = 'roles test'")
        assert cursor.fetchone()[0] == 1
        cursor.execute(f"SELECT count(*) FROM {HISTORY} WHERE credentials IS NOT NULL")
        assert cursor.fetchone()[0] >= 1
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == application_role
    # The chain's head is no audit table: every entry moves it.
    assert AccessLogHead.objects.get().sequence >= 1


def test_the_application_role_changes_and_deletes_ordinary_rows(application_role, staff):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE auth_user SET first_name = 'Alicia' WHERE username = 'alice'")
        cursor.execute("DELETE FROM django_session")
    assert "permission denied" in refused("INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())")


@pytest.mark.parametrize("table", [ACCESS_LOG, HISTORY])
def test_truncate_is_refused_even_to_the_owner_unless_asked_for_by_name(database_owner, table):
    assert "append-only: TRUNCATE refused" in refused(f"TRUNCATE {table}")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL {dbroles.ALLOW_TRUNCATE_SETTING} = 'on'")
        cursor.execute(f"TRUNCATE {table}")
        transaction.set_rollback(True)


def test_every_audit_table_has_the_truncate_guard(db, on_postgres):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.tgname = %s",
            [dbroles.TRUNCATE_GUARD],
        )
        guarded = {row[0] for row in cursor.fetchall()}
    # The access log's monthly partitions are tables of their own, each guarded (novamind.partitions).
    assert guarded == set(dbroles.existing_audit_tables(connection))
    assert set(partitions.partition_tables(connection)) <= guarded


def test_applying_the_roles_again_is_clean_and_keeps_one_guard_per_table(database_owner, settings):
    for _ in range(2):
        account = dbroles.apply(connection, app_role=settings.NOVAMIND_DATABASE_APP_ROLE or None)
    tables = dbroles.existing_audit_tables(connection)
    assert f"TRUNCATE guarded on {len(tables)} audit tables" in account
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [dbroles.TRUNCATE_GUARD])
        assert cursor.fetchone()[0] == len(tables)


def test_the_grants_leave_the_application_role_select_and_insert_only_on_audit_tables(application_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, has_table_privilege(%s, name, 'SELECT'), has_table_privilege(%s, name, 'INSERT'), "
            "has_table_privilege(%s, name, 'UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') "
            "FROM unnest(%s::text[]) AS name",
            [application_role, application_role, application_role, dbroles.existing_audit_tables(connection)],
        )
        rows = cursor.fetchall()
    assert rows and all(select and insert and not more for _, select, insert, more in rows)


def test_purge_expired_as_the_application_role_fails_in_one_clear_line(application_role, staff):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    with pytest.raises(CommandError) as refusal:
        call_command("purge_expired", "--actor", "alice", stdout=io.StringIO())
    message = str(refusal.value)
    assert message.startswith("purge_expired must run as the database owner role")
    assert f"'{application_role}' may not DELETE" in message and "\n" not in message


def test_rotate_encryption_keys_as_the_application_role_fails_in_one_clear_line(application_role, staff, settings):
    from cryptography.fernet import Fernet

    from novamind import encryption

    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    entries = access_log_size()
    with encryption.keys([Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEY]):
        with pytest.raises(CommandError) as refusal:
            call_command("rotate_encryption_keys", "--actor", "alice", stdout=io.StringIO())
    message = str(refusal.value)
    assert message.startswith("rotate_encryption_keys must run as the database owner role")
    assert "may not UPDATE" in message and "\n" not in message
    assert access_log_size() == entries  # refused before the run was put on record


def access_log_size():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {ACCESS_LOG}")
        return cursor.fetchone()[0]


@override_settings(PRODUCTION=True)
def test_production_warns_when_the_login_could_switch_the_protection_off(db, on_postgres):
    # A superuser (a developer's run) or, in CI, an application login that may become the owner.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper OR pg_has_role(session_user, (SELECT relowner FROM pg_class "
            "WHERE oid = 'novamind_accesslogentry'::regclass), 'MEMBER') FROM pg_roles WHERE rolname = session_user"
        )
        powerful = cursor.fetchone()[0]
    if not powerful:
        pytest.skip("the login is a proper application role: see the next test")
    warnings = checks.check_database_role()
    assert [warning.id for warning in warnings] == ["novamind.W050"]
    assert "switch off the audit trail" in warnings[0].msg


def test_the_application_role_has_no_right_beyond_appending_to_the_audit_tables(application_role):
    problems = dbroles.role_problems(connection, application_role)
    if TEST_DATABASE_OWNER:  # the one exception: CI's harness-only membership of the owner (conftest)
        assert problems == [
            f"the role '{application_role}' may become the owner of the audit tables ({TEST_DATABASE_OWNER})"
        ]
    else:
        assert problems == []


def test_the_owner_role_is_named_as_a_problem(application_role):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'novamind_accesslogentry'::regclass")
        owner = cursor.fetchone()[0]
    # The owner that migrated: the owner role, or on a developer's run the superuser postgres.
    problems = dbroles.role_problems(connection, owner)
    assert problems in ([f"the role '{owner}' owns the audit tables"], [f"the role '{owner}' is a superuser"])


def test_the_dba_command_creates_the_two_roles_and_hands_the_database_to_the_owner(db, on_postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("creating roles needs a superuser (the DBA); this run is not one")
    suffix = secrets.token_hex(4)
    owner, app = f"novamind_test_owner_{suffix}", f"novamind_test_app_{suffix}"
    out = io.StringIO()
    # Roles and ownership are transactional in PostgreSQL: the test's rollback undoes all of it.
    call_command("database_roles", "--owner", owner, "--app", app, "--execute", stdout=out)
    assert f"'{owner}' owns" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolname, rolcanlogin, rolinherit, rolsuper, rolcreatedb FROM pg_roles WHERE rolname IN (%s, %s) "
            "ORDER BY rolname = %s",
            [owner, app, app],
        )
        assert cursor.fetchall() == [(owner, True, True, False, False), (app, True, False, False, False)]
        cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        assert cursor.fetchone()[0] == owner
        cursor.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        )
        assert cursor.fetchall() == [(owner,)]
        cursor.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", [app, owner])
        assert cursor.fetchone()[0] is False


def test_the_dba_command_prints_the_sql_without_running_it(db, on_postgres):
    out = io.StringIO()
    call_command("database_roles", "--owner", "nm_owner", "--app", "nm_app", stdout=out)
    assert 'ALTER DATABASE "' in out.getvalue() and out.getvalue().count(";\n") >= 10
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname IN ('nm_owner', 'nm_app')")
        assert cursor.fetchone()[0] == 0


def test_migrate_refuses_an_application_role_that_is_missing_or_the_owner(database_owner):
    with pytest.raises(dbroles.RoleError, match="does not exist"):
        dbroles.apply(connection, app_role="novamind_no_such_role")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'novamind_accesslogentry'::regclass")
        owner = cursor.fetchone()[0]
    with pytest.raises(dbroles.RoleError, match="owns the audit tables|is a superuser"):
        dbroles.apply(connection, app_role=owner)
