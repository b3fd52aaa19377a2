"""The access log becomes monthly partitions on PostgreSQL (novamind.partitions); SQLite keeps one table.

A rewrite under an exclusive lock: every entry is copied in sequence order, and the table keeps
its name, keys (widened by occurred_at, as partitioning requires), indexes and append-only trigger.
"""

from django.db import migrations

from novamind import partitions


class Migration(migrations.Migration):
    dependencies = [
        ("novamind", "0005_history_chain"),
    ]

    operations = [
        migrations.RunPython(partitions.partition_access_log, partitions.unpartition_access_log, elidable=False),
    ]
