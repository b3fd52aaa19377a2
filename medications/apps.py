from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    verbose_name = "Medications"

    def ready(self):
        from medications import checks  # noqa: F401  (registers the system checks)
