"""Least privilege in PostgreSQL: the owner role migrates, the application role only appends to the audit trail.

Two roles share the database. The **owner** owns the schema: it runs `migrate`, and the two
commands that rewrite history rows by design (`rotate_encryption_keys` re-encrypts them,
`purge_expired` deletes a purged patient's). The **application role** (`DATABASE_APP_ROLE`) is
what the web process, cron and every other command connect as. On the audit tables
(`audit_tables()`) it may SELECT and INSERT and nothing else: no UPDATE, DELETE or TRUNCATE, and,
owning nothing, no ALTER TABLE, DISABLE TRIGGER or DROP TRIGGER. So a stolen application
password, or a bug, cannot switch the audit trail's protection off.

TRUNCATE skips row-level triggers (the access log's append-only trigger among them), so every
audit table also has a statement-level guard that refuses TRUNCATE to every role, the owner
included, unless the session sets `ALLOW_TRUNCATE_SETTING` to `on`: a deliberate act, which the
test harness's flush is (a role without the TRUNCATE privilege gains nothing by setting it).

History tables get no row-level UPDATE/DELETE refusal like the access log's: the owner must
rewrite them (key rotation) and delete from them (a retention purge), and could switch such a
trigger off anyway; privileges alone refuse the application role.

`apply()` runs after every `migrate` (post_migrate), as the owner, so the tables of a later
migration are treated alike; `roles_sql()` is what a DBA runs once (`manage.py database_roles`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.apps import apps
from django.core.management.base import CommandError
from django.db import transaction

TRUNCATE_GUARD = "novamind_audit_no_truncate"
ALLOW_TRUNCATE_SETTING = "novamind.allow_audit_truncate"
# NovaMind's tables live in the public schema, which the DBA's setup (roles_sql) gives the owner.
SCHEMA = "public"
# What an operator may name a role: no quoting games in the SQL this module writes.
ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# The privileges the application role never holds on an audit table (TRIGGER would let it add one,
# REFERENCES point a constraint at it).
AUDIT_REFUSED = ("UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

GUARD_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {TRUNCATE_GUARD}() RETURNS trigger AS $$
BEGIN
    IF current_setting('{ALLOW_TRUNCATE_SETTING}', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit table % is append-only: TRUNCATE refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


class RoleError(CommandError):
    """The database roles are set up in a way the audit trail cannot be protected with."""


class OwnerRightsRequired(Exception):
    """A command that rewrites the audit trail runs as a role that may not (the application role)."""


def is_audit_model(model) -> bool:
    """Return whether `model`'s table is part of the audit trail (append-only for the application).

    Every django-simple-history table (its class carries `instance_type`, the model it records)
    and every model that says so with `novamind_audit_table = True`. A chain's head is not: the
    application moves it with every entry.
    """
    return getattr(model, "instance_type", None) is not None or getattr(model, "novamind_audit_table", False) is True


def audit_tables() -> list[str]:
    """Return the table names of the audit trail, of every installed app, sorted."""
    return sorted(
        {
            model._meta.db_table
            for model in apps.get_models()
            if is_audit_model(model) and model._meta.managed and not model._meta.proxy
        }
    )


def existing_audit_tables(connection) -> list[str]:
    """Return the audit tables that exist in `connection`'s database (a migration may be pending)."""
    existing = set(connection.introspection.table_names())
    tables = [table for table in audit_tables() if table in existing]
    if connection.vendor != "postgresql" or not tables:
        return tables
    # A partition (the access log's months, novamind.partitions) is a table of its own: the
    # TRUNCATE guard and the grants are per table, and TRUNCATE of one skips its parent's guard.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = ANY(ARRAY(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name))",
            [[_quote(table) for table in tables]],
        )
        return sorted(tables + [row[0] for row in cursor.fetchall()])


def role_name(name: str, *, option: str) -> str:
    """Return `name` if it is a plain PostgreSQL role name, or raise RoleError naming `option`."""
    if not ROLE_NAME.match(name or ""):
        raise RoleError(
            f"{option} {name!r} is not a plain role name: use lower-case letters, digits and underscores "
            f"(at most 63, not starting with a digit)."
        )
    return name


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- After every migrate, as the owner ---------------------------------------------------------


def apply(connection, *, app_role: str | None) -> str:
    """Install the TRUNCATE guard on every audit table and, with `app_role`, grant it least privilege.

    Run by the owner (post_migrate). Return a one-line account for migrate's output. Skipped,
    with the reason, when the connected role does not control the audit tables (the application
    role itself, or a test flush run as it): only their owner or a superuser can do this.
    Raise RoleError for a configuration that could not protect anything.
    """
    tables = existing_audit_tables(connection)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        current, superuser = cursor.fetchone()
        cursor.execute(
            "SELECT bool_and(pg_has_role(current_user, c.relowner, 'USAGE')) FROM pg_class c "
            "WHERE c.oid = ANY(ARRAY(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name))",
            [[_quote(table) for table in tables]],
        )
        controls = superuser or cursor.fetchone()[0] is not False
    if app_role is not None:
        _check_app_role(connection, role_name(app_role, option="DATABASE_APP_ROLE"), tables)
    if not controls:
        return (
            f"database roles: left as they are; '{current}' does not own the audit tables "
            f"(run migrate as the owner role)."
        )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(GUARD_FUNCTION_SQL)
        for table in tables:
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {TRUNCATE_GUARD} BEFORE TRUNCATE ON {_quote(table)} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {TRUNCATE_GUARD}()"
            )
        if app_role is not None:
            for statement in grants_sql(app_role, tables):
                cursor.execute(statement)
    granted = f"; '{app_role}' may only SELECT and INSERT on them" if app_role else ""
    return f"database roles: TRUNCATE guarded on {len(tables)} audit tables{granted}."


def apply_after_migrate(sender, using, verbosity=1, stdout=None, **kwargs):
    """Apply the TRUNCATE guard and the application role's grants at the end of every migrate."""
    from django.conf import settings
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    account = apply(connection, app_role=settings.NOVAMIND_DATABASE_APP_ROLE or None)
    if verbosity >= 1 and stdout is not None:
        stdout.write(account)


def _check_app_role(connection, app_role: str, tables: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [app_role])
        row = cursor.fetchone()
        if row is None:
            raise RoleError(
                f"DATABASE_APP_ROLE names '{app_role}', which does not exist on this server: a DBA creates it "
                f"with `manage.py database_roles` (README, 'Database roles')."
            )
        if row[0]:
            raise RoleError(f"DATABASE_APP_ROLE '{app_role}' is a superuser: no grant can restrain it.")
        # 'USAGE': the owner's rights without SET ROLE, as owning or an INHERIT membership gives.
        cursor.execute(
            "SELECT bool_or(pg_has_role(%s, c.relowner, 'USAGE')) FROM pg_class c "
            "WHERE c.oid = ANY(ARRAY(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name))",
            [app_role, [_quote(table) for table in tables]],
        )
        if cursor.fetchone()[0]:
            raise RoleError(
                f"DATABASE_APP_ROLE '{app_role}' owns the audit tables or inherits their owner's rights: the "
                f"application role must be another role than the owner that runs migrate (README, 'Database roles')."
            )


def grants_sql(app_role: str, tables: Iterable[str]) -> list[str]:
    """Return the GRANT and REVOKE statements that give `app_role` least privilege in the current schema."""
    app = _quote(app_role)
    statements = [
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {SCHEMA} TO {app}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA {SCHEMA} FROM {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {app}",
        f"REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {app}",
        # The application reads which migrations ran (runserver's warning); it does not record one.
        f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {app}",
    ]
    for table in tables:
        statements += [
            f"REVOKE {', '.join(AUDIT_REFUSED)} ON {_quote(table)} FROM {app}, PUBLIC",
            f"GRANT SELECT, INSERT ON {_quote(table)} TO {app}",
        ]
    return statements


# --- What a command that rewrites the audit trail asks first -------------------------------------


def lacking(connection, privilege: str, tables: Iterable[str]) -> list[str]:
    """Return the tables of `tables` on which the connected role lacks `privilege` (none off PostgreSQL)."""
    if connection.vendor != "postgresql":
        return []
    names = sorted(set(tables))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name "
            "WHERE to_regclass(quote_ident(name)) IS NOT NULL "
            "AND NOT has_table_privilege(to_regclass(quote_ident(name)), %s) ORDER BY name",
            [names, privilege],
        )
        return [row[0] for row in cursor.fetchall()]


def require_owner_rights(connection, *, command: str, privilege: str, tables: Iterable[str]) -> None:
    """Raise OwnerRightsRequired, in one line, unless the connected role may `privilege` every table."""
    missing = lacking(connection, privilege, tables)
    if not missing:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        role = cursor.fetchone()[0]
    shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
    raise OwnerRightsRequired(
        f"{command} must run as the database owner role, like migrate: the role '{role}' may not "
        f"{privilege} {shown}. Nothing was changed. Run it with the owner's DATABASE_URL "
        f"(README, 'Database roles')."
    )


# --- The system check's question -----------------------------------------------------------------


def connected_role_problems(connection) -> list[str]:
    """Return why the role this process logged in as could switch the audit trail's protection off.

    Empty for a proper application role. The login (session_user) is asked, not the current
    role: a login that may SET ROLE to the owner has the owner's power whatever role it wears.
    """
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT session_user")
        login = cursor.fetchone()[0]
    return role_problems(connection, login)


def role_problems(connection, role: str) -> list[str]:
    """Return why `role` could alter, empty or switch off the audit tables (empty: it can only append)."""
    tables = existing_audit_tables(connection)
    if not tables:
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone()[0]:
            return [f"the role '{role}' is a superuser"]
        cursor.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner), pg_has_role(%s, c.relowner, 'MEMBER'), "
            "has_table_privilege(%s, c.oid, %s) FROM pg_class c "
            "WHERE c.oid = ANY(ARRAY(SELECT to_regclass(name) FROM unnest(%s::text[]) AS name)) ORDER BY c.relname",
            [role, role, ", ".join(AUDIT_REFUSED), [_quote(table) for table in tables]],
        )
        rows = cursor.fetchall()
    owners = sorted({owner for _, owner, member, _ in rows if member})
    privileged = [table for table, _, member, holds in rows if holds and not member]
    problems = []
    if role in owners:
        problems.append(f"the role '{role}' owns the audit tables")
    elif owners:
        problems.append(f"the role '{role}' may become the owner of the audit tables ({', '.join(owners)})")
    if privileged:
        problems.append(
            f"the role '{role}' may {', '.join(AUDIT_REFUSED[:3])} or add triggers on "
            f"{len(privileged)} audit tables ({', '.join(privileged[:3])}…)"
        )
    return problems


# --- What a DBA runs once ------------------------------------------------------------------------


def roles_sql(*, owner: str, app: str, database: str) -> list[str]:
    """Return the statements that create the owner and application roles and hand the database over.

    Idempotent: roles that exist are brought to the attributes below. Run as a superuser (or a
    role with CREATEROLE that owns the database), connected to `database`. No password is set
    here: a statement with one would sit in logs; set it with psql's \\password or use
    certificates.
    """
    owner, app = role_name(owner, option="--owner"), role_name(app, option="--app")
    if owner == app:
        raise RoleError("--owner and --app must be two different roles.")
    o, a, db = _quote(owner), _quote(app), _quote(database)
    statements = []
    for name, quoted in ((owner, o), (app, a)):
        statements += [
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
            f"THEN CREATE ROLE {quoted}; END IF; END $$",
            f"ALTER ROLE {quoted} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
            + (" NOINHERIT" if name == app else ""),
        ]
    statements += [
        # The application role must not be able to become the owner.
        f"REVOKE {o} FROM {a}",
        f"ALTER DATABASE {db} OWNER TO {o}",
        f"REVOKE ALL ON DATABASE {db} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {db} TO {a}",
        f"ALTER SCHEMA public OWNER TO {o}",
        "REVOKE ALL ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {a}",
        # Tables, sequences, views and functions created before (by whoever migrated) become the
        # owner's, so its migrate can alter them and the application role owns none.
        "DO $$ DECLARE item record; BEGIN "
        "FOR item IN SELECT c.relname, c.relkind FROM pg_class c "
        "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S') "
        f"AND pg_get_userbyid(c.relowner) <> '{owner}' "
        # A partition (the access log's months) depends on its parent, yet is owned on its own.
        "AND (c.relispartition OR NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))) LOOP "
        "EXECUTE format('ALTER %s %I OWNER TO %I', "
        "CASE item.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' "
        f"ELSE 'TABLE' END, item.relname, '{owner}'); END LOOP; "
        "FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p "
        f"WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> '{owner}' "
        "AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP "
        f"EXECUTE format('ALTER FUNCTION %s OWNER TO %I', item.signature, '{owner}'); END LOOP; END $$",
    ]
    return statements
