from django.apps import AppConfig


class MedicationsConfig(AppConfig):
    name = "medications"
    verbose_name = "Medications"
