"""Which database errors are outages: the server or its pool cannot be reached, not a refused statement."""

import sqlite3

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError
from psycopg import errors as pg
from psycopg_pool import PoolTimeout

from novamind import outages


def wrapped(cause, wrapper=OperationalError):
    """Return `cause` wrapped as Django wraps a driver's error."""
    error = wrapper(*cause.args)
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "cause",
    [
        PoolTimeout("couldn't get a connection after 5.00 sec"),
        psycopg.OperationalError('connection to server at "127.0.0.1", port 1 failed: Connection refused'),
        pg.AdminShutdown("terminating connection due to administrator command"),
        pg.CannotConnectNow("the database system is starting up"),
        pg.ConnectionFailure("connection failure"),
        sqlite3.OperationalError("unable to open database file"),
    ],
    ids=lambda cause: type(cause).__name__,
)
def test_an_unreachable_or_departing_database_is_an_outage(cause):
    if isinstance(cause, sqlite3.OperationalError):
        cause.sqlite_errorcode = outages.SQLITE_CANTOPEN
    assert outages.is_unavailable(wrapped(cause))


def test_a_closed_connection_is_an_outage():
    assert outages.is_unavailable(InterfaceError("connection already closed"))


@pytest.mark.parametrize(
    "error",
    [
        wrapped(pg.SerializationFailure("could not serialize access")),
        wrapped(pg.QueryCanceled("canceling statement due to statement timeout")),
        wrapped(sqlite3.OperationalError("no such table: patients_patient")),
        wrapped(pg.UniqueViolation("duplicate key"), IntegrityError),
        DatabaseError("something else"),
        ValueError("not a database error"),
    ],
    ids=lambda error: type(error.__cause__ or error).__name__,
)
def test_a_statement_the_database_refused_is_not_an_outage(error):
    assert not outages.is_unavailable(error)


def test_the_description_is_one_line_without_the_hint_that_follows():
    error = wrapped(psycopg.OperationalError("connection failed: Connection refused\n\tIs the server running?"))
    assert outages.describe(error) == "OperationalError: connection failed: Connection refused"
