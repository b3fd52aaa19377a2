from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients"

    def ready(self):
        from novamind import access
        from patients import policy

        # Every access-log entry asks the policy whether it was made only under an emergency grant.
        access.emergency_rule(policy.emergency_for)
