"""A database outage answers a styled 503 in seconds, and a command one line and exit 1; the pool recovers.

No test here measures time (the machine is shared): the waits are asserted as configured
(novamind/tests/unit/test_config.py), and the outage itself is made real where it matters, on
PostgreSQL, by cutting a TCP relay between a NovaMind process and the server.
"""

import contextlib
import logging
import selectors
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest
from django.db import OperationalError, connection
from psycopg_pool import PoolTimeout

from novamind.tests.children import BASE_DIR, child_environment, postgres_url
from patients import models

ADD_FORM = {"legal_first_name": "Robin", "legal_last_name": "Okafor", "date_of_birth": "1990-05-17", "version": "1"}

pytestmark = pytest.mark.django_db


def pool_timeout() -> OperationalError:
    """Return the error Django raises when the pool hands out no connection in time."""
    error = OperationalError("couldn't get a connection after 5.00 sec")
    error.__cause__ = PoolTimeout("couldn't get a connection after 5.00 sec")
    return error


@pytest.fixture
def outage(staff_client, monkeypatch):
    """Make every attempt to open the request's connection fail as an exhausted pool does."""

    def refuse():
        raise pool_timeout()

    staff_client.raise_request_exception = False
    monkeypatch.setattr(connection, "ensure_connection", refuse)
    return staff_client


def assert_unavailable_page(response):
    assert response.status_code == 503
    page = response.content.decode()
    assert "The database is unavailable; nothing was saved" in page
    assert "admin/css/base.css" in page  # the admin's look, without the admin's database-bound base template
    for leak in ("Traceback", "OperationalError", "PoolTimeout", "Server Error"):
        assert leak not in page


def test_a_page_during_an_outage_answers_the_styled_503_and_logs_one_line_without_a_traceback(outage, caplog):
    with caplog.at_level(logging.INFO):
        response = outage.get("/admin/patients/patient/")
    assert_unavailable_page(response)
    assert response["Retry-After"]
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert [record.name for record in errors] == ["novamind.database"]
    (record,) = errors
    assert record.exc_info is None and "\n" not in record.getMessage()
    assert record.getMessage() == (
        "Refused GET /admin/patients/patient/: the database is unavailable "
        "(OperationalError: couldn't get a connection after 5.00 sec)"
    )


def test_a_form_sent_during_an_outage_saves_nothing(outage, monkeypatch):
    assert_unavailable_page(outage.post("/admin/patients/patient/add/", ADD_FORM))
    monkeypatch.undo()
    assert not models.Patient.objects.exists()


def test_a_connection_lost_in_the_middle_of_a_view_answers_the_same_503(staff_client, monkeypatch):
    from patients.admin import PatientAdmin

    def lost(*args, **kwargs):
        import psycopg

        error = OperationalError("server closed the connection unexpectedly")
        error.__cause__ = psycopg.OperationalError("server closed the connection unexpectedly")
        raise error

    monkeypatch.setattr(PatientAdmin, "get_queryset", lost)
    staff_client.raise_request_exception = False
    assert_unavailable_page(staff_client.get("/admin/patients/patient/"))


def test_an_error_the_database_reports_about_a_statement_is_not_called_an_outage(staff_client, monkeypatch):
    from patients.admin import PatientAdmin

    def refused(*args, **kwargs):
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(PatientAdmin, "get_queryset", refused)
    staff_client.raise_request_exception = False
    assert staff_client.get("/admin/patients/patient/").status_code == 500


# --- Real outages, in another process -----------------------------------------------------


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_database_url(tmp_path) -> str:
    """Return a URL of this engine whose database cannot be reached."""
    if connection.vendor == "postgresql":
        return postgres_url(port=unused_port())  # nothing listens there: every connection is refused
    return f"sqlite:///{tmp_path / 'no-such-directory' / 'novamind.sqlite3'}"


def test_a_command_during_an_outage_exits_1_with_one_clear_line_and_no_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=BASE_DIR,
        env=child_environment(unreachable_database_url(tmp_path), DATABASE_POOL_TIMEOUT="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()  # not the system checks' warning block as well
    assert line.startswith("verify_audit: the database is unavailable (OperationalError: ")
    assert line.endswith("); nothing was saved.")


@pytest.mark.parametrize("module", ["novamind.wsgi", "novamind.asgi"])
def test_a_server_starts_while_the_database_is_unreachable_to_answer_503_until_it_is_back(module, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=BASE_DIR,
        env=child_environment(unreachable_database_url(tmp_path), DATABASE_POOL_TIMEOUT="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "novamind.W010" in result.stderr and "the database is unavailable" in result.stderr


class Relay:
    """A TCP relay to PostgreSQL that can be cut (connections dropped, new ones refused) and restored."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = unused_port()
        self.listener = None
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()

    def restore(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close() alone would not
        self.listener.close()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for end in pair:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)  # close() alone leaves the pump thread's socket open
                end.close()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    @staticmethod
    def _pump(client, server):
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select():
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            selector.close()


# A NovaMind web server (the standard library's WSGI server, one request at a time) on a given port.
SERVER = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server
import novamind.wsgi
class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass
server = make_server("127.0.0.1", int(sys.argv[1]), novamind.wsgi.application, handler_class=Quiet)
print("ready", flush=True)
server.serve_forever()
"""


def fetch(port: int) -> str:
    """Return the status of the sign-in page and whether it is the outage page."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return f"{status} {'unavailable' if b'The database is unavailable' in body else 'page'}"


def test_the_pool_recovers_after_an_outage_without_a_restart(on_postgres):
    relay = Relay((connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432)))
    relay.restore()
    port = unused_port()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        cwd=BASE_DIR,
        env=child_environment(
            postgres_url(port=relay.port),
            DATABASE_POOL_TIMEOUT="2",
            DATABASE_POOL_MIN_SIZE="1",
            LOG_LEVEL="CRITICAL",
            ALLOWED_HOSTS="127.0.0.1",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout.readline().strip() == "ready", server.stderr.read()
        assert fetch(port) == "200 page"
        relay.cut()
        assert fetch(port) == "503 unavailable"
        assert fetch(port) == "503 unavailable"
        relay.restore()
        # The pool reconnects in the background with a growing delay: a few requests find it back.
        answers = [fetch(port) for _ in range(10)]
        assert "200 page" in answers
        assert answers[-1] == "200 page"
    finally:
        server.kill()
        server.wait(timeout=60)
        relay.cut()
    assert "Traceback" not in server.stderr.read()
