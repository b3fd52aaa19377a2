from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class AppointmentsConfig(AppConfig):
    name = "appointments"
    verbose_name = "Appointments"

    def ready(self):
        from appointments import checks, models

        checks.register()

        post_save.connect(forget_day_tallies, sender=models.Appointment, dispatch_uid="appointments_forget_tallies")
        post_delete.connect(forget_day_tallies, sender=models.Appointment, dispatch_uid="appointments_forget_tallies")


def forget_day_tallies(sender, instance, **kwargs):
    """Forget the counts of the days an appointment was and is on (appointments.tallies)."""
    from appointments import tallies

    tallies.forget(getattr(instance, "_loaded_start", None), instance.start)
    instance._loaded_start = instance.start
