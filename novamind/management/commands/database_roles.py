"""Create the owner and application roles of a PostgreSQL database (a DBA's command, run once)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection, transaction

from novamind import dbroles


class Command(BaseCommand):
    help = (
        "Print (or, with --execute, run) the SQL that creates NovaMind's two PostgreSQL roles and hands "
        "the database to the owner: the owner role owns the database, its public schema and every "
        "table in it, and runs migrate, rotate_encryption_keys and purge_expired; the application "
        "role (LOGIN, NOINHERIT, not a member of the owner) is what the web process, cron and every "
        "other command connect as. Run it as a superuser connected to the application's database. "
        "It sets no password (use psql's \\password, or certificates). Then run migrate as the owner "
        "with DATABASE_APP_ROLE naming the application role: every migrate grants that role SELECT, "
        "INSERT, UPDATE and DELETE on ordinary tables and only SELECT and INSERT on the audit tables."
    )

    def add_arguments(self, parser):
        parser.add_argument("--owner", required=True, metavar="ROLE", help="The owner role (runs migrate).")
        parser.add_argument(
            "--app", required=True, metavar="ROLE", help="The application role (web, cron, everyday commands)."
        )
        parser.add_argument(
            "--execute",
            action="store_true",
            help="Run the statements, in one transaction, instead of printing them.",
        )

    def handle(self, *args, owner, app, execute, **options):
        if connection.vendor != "postgresql":
            raise CommandError("database_roles is for PostgreSQL; this DATABASE_URL is not PostgreSQL.")
        # The schema statements act on the connected database, so that is the one handed over.
        database = connection.settings_dict["NAME"]
        statements = dbroles.roles_sql(owner=owner, app=app, database=database)
        if not execute:
            for statement in statements:
                self.stdout.write(statement + ";")
            return
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        except DatabaseError as error:
            raise CommandError(
                f"Nothing was changed: the database refused ({str(error).strip().splitlines()[0]}). "
                f"Run this command as a superuser, connected to '{database}'."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"'{owner}' owns '{database}' and its tables; '{app}' may connect. Next: set their passwords, "
                f"then run migrate as '{owner}' with DATABASE_APP_ROLE={app}."
            )
        )
