from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    """Measurement-based care: standardised questionnaires, their scores, and the safety alerts they raise."""

    name = "assessments"
    verbose_name = "Measures"

    def ready(self):
        from assessments import checks  # noqa: F401  (registers the system checks)
