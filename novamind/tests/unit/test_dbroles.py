"""The audit tables and the DBA's SQL of novamind.dbroles (no database)."""

import pytest
from django.apps import apps

from novamind import dbroles


def test_the_audit_tables_are_the_access_log_every_history_table_and_the_erasure_receipts_and_no_chain_head():
    tables = dbroles.audit_tables()
    history = {model._meta.db_table for model in apps.get_models() if hasattr(model, "instance_type")}
    assert set(tables) == {"novamind_accesslogentry", "novamind_historyerasure", *history}
    assert "patients_historicalpatient" in tables
    assert "novamind_accessloghead" not in tables and "novamind_historychainhead" not in tables


def test_a_model_joins_the_audit_trail_by_saying_so():
    class Receipt:
        novamind_audit_table = True

    class Head:
        pass

    assert dbroles.is_audit_model(Receipt) and not dbroles.is_audit_model(Head)


def test_the_dba_sql_creates_a_login_application_role_that_inherits_nothing_and_cannot_become_the_owner():
    statements = dbroles.roles_sql(owner="nm_owner", app="nm_app", database="novamind")
    assert (
        'ALTER ROLE "nm_app" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT'
        in statements
    )
    assert 'REVOKE "nm_owner" FROM "nm_app"' in statements
    assert 'ALTER DATABASE "novamind" OWNER TO "nm_owner"' in statements
    assert not any("PASSWORD" in statement for statement in statements)


@pytest.mark.parametrize(
    "owner, app", [("Owner", "app"), ("owner", "app; DROP TABLE x"), ("same", "same"), ("", "app")]
)
def test_the_dba_sql_refuses_role_names_that_are_not_plain_or_the_same_twice(owner, app):
    with pytest.raises(dbroles.RoleError):
        dbroles.roles_sql(owner=owner, app=app, database="novamind")


def test_the_grants_give_select_and_insert_only_on_audit_tables():
    statements = dbroles.grants_sql("nm_app", ["novamind_accesslogentry"])
    assert (
        'REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON "novamind_accesslogentry" FROM "nm_app", PUBLIC'
        in statements
    )
    assert 'GRANT SELECT, INSERT ON "novamind_accesslogentry" TO "nm_app"' in statements
