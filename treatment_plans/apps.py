from django.apps import AppConfig


class TreatmentPlansConfig(AppConfig):
    name = "treatment_plans"
    verbose_name = "Treatment plans"

    def ready(self):
        from treatment_plans import checks  # noqa: F401  (registers the system checks)
