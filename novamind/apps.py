from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_encryption_canary(sender, using, **kwargs):
    """Store the canary once, under the key in force when the database was created."""
    from novamind.models import EncryptionCanary

    if not EncryptionCanary.objects.using(using).exists():
        EncryptionCanary.objects.using(using).create(value=EncryptionCanary.PLAINTEXT)


class NovamindConfig(AppConfig):
    name = "novamind"
    verbose_name = "NovaMind"

    def ready(self):
        from novamind import access, chains, checks, dbroles  # noqa: F401  (checks registers the system checks)

        chains.register(access.AccessLogChain())

        from simple_history.signals import pre_create_historical_record

        from novamind import history_chain

        history_chain.register_chains()
        pre_create_historical_record.connect(history_chain.seal_instance, dispatch_uid=history_chain.SIGNAL_UID)

        post_migrate.connect(create_encryption_canary, sender=self)
        # The access log's coming months get their partitions before the grants below cover them.
        from novamind import partitions

        post_migrate.connect(
            partitions.ensure_after_migrate, sender=self, dispatch_uid="novamind_access_log_partitions"
        )
        # Least privilege on PostgreSQL, re-applied by every migrate (it covers new history tables).
        post_migrate.connect(dbroles.apply_after_migrate, sender=self, dispatch_uid="novamind_database_roles")

        from novamind import signals

        signals.connect(self)  # role changes audited; the permission matrix applied after migrate
