from django.apps import AppConfig


class ClinicConfig(AppConfig):
    """The features that read several apps: the dashboard, the record export, retention, the audit report.

    It sits above the entity apps and may import them; nothing imports it back.
    """

    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from clinic import checks  # noqa: F401  (registers the system checks)
