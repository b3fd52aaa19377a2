"""PostgreSQL's guarantee against double booking: exclusion constraints over time ranges.

Among appointments that hold time (scheduled, checked in, completed), no clinician, no patient
and no room may have two whose [start, end) ranges overlap. The constraint is checked inside the
INSERT or UPDATE, so when two staff book the same slot at the same moment the second waits for
the first to commit and is then refused (SQLSTATE 23P01), which the repository reports as a
BookingConflict. btree_gist lets a GiST index compare the plain equality columns.

SQLite has no exclusion constraints; there the same rule is enforced by the services, which is
sound for the sequential use SQLite is meant for. Both operations are no-ops on SQLite.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

TABLE = "appointments_appointment"
HOLDING = "('scheduled', 'checked_in', 'completed')"
CONSTRAINTS = {
    "appointments_no_clinician_overlap": "clinician_id",
    "appointments_no_patient_overlap": "patient_id",
    "appointments_no_room_overlap": "room_id",
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f'ALTER TABLE {TABLE} ADD CONSTRAINT {name} EXCLUDE USING gist '
            f'({column} WITH =, tstzrange("start", "end", \'[)\') WITH &&) '
            f"WHERE (status IN {HOLDING})"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ("appointments", "0001_initial"),
    ]

    operations = [
        BtreeGistExtension(),
        migrations.RunPython(add_constraints, drop_constraints, elidable=False),
    ]
