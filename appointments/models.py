"""The schedule tables: rooms, appointments and recurring series.

Times, people, rooms and statuses are plaintext so the schedule can be searched and indexed;
the reason for the visit and the reason for a cancellation are PHI and encrypted. On
PostgreSQL, migration 0002 adds exclusion constraints so that no clinician, patient or room
holds two overlapping appointments, whatever the application does.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from appointments import domain, policy
from novamind import encryption
from novamind.domain import RuleViolation
from novamind.models import AuditedModel

HOLDING = [status.value for status in domain.TIME_HOLDING]
OVERLAP_CONSTRAINTS = {
    "appointments_no_clinician_overlap": domain.Party.CLINICIAN,
    "appointments_no_patient_overlap": domain.Party.PATIENT,
    "appointments_no_room_overlap": domain.Party.ROOM,
}


def _choices(enum):
    return [(member.value, member.label) for member in enum]


class Room(AuditedModel):
    """A consulting or group room that in-person appointments are booked into."""

    name = models.CharField("name", max_length=60, unique=True, help_text="For example “Room 2” or “Group room”.")
    is_active = models.BooleanField(
        "in use", default=True, help_text="Rooms out of use cannot be booked; their history stays."
    )

    class Meta:
        verbose_name = "room"
        ordering = ["name"]

    def __str__(self):
        return self.name


class AppointmentSeries(AuditedModel):
    """A weekly or fortnightly run of appointments booked together, for a count or until a date.

    The series keeps what was asked for; each occurrence is an ordinary appointment linked to it,
    which can be checked in, cancelled or rescheduled on its own.
    """

    patient = models.ForeignKey(
        "patients.Patient", verbose_name="patient", on_delete=models.PROTECT, related_name="appointment_series"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="clinician", on_delete=models.PROTECT, related_name="appointment_series"
    )
    start = models.DateTimeField(
        "first start", help_text="Start of the first appointment; later ones keep its local time."
    )
    end = models.DateTimeField("first end")
    frequency = models.CharField(
        "frequency", max_length=20, choices=_choices(domain.Frequency), default=domain.Frequency.WEEKLY.value
    )
    count = models.PositiveSmallIntegerField(
        "occurrences", null=True, blank=True, help_text=f"2 to {domain.MAX_OCCURRENCES}; or give a last date instead."
    )
    until = models.DateField(
        "last date",
        null=True,
        blank=True,
        help_text="No appointment after this date; or give a number of occurrences instead.",
    )
    kind = models.CharField("kind", max_length=30, choices=_choices(domain.Kind), default=domain.Kind.THERAPY.value)
    modality = models.CharField(
        "modality", max_length=20, choices=_choices(domain.Modality), default=domain.Modality.IN_PERSON.value
    )
    room = models.ForeignKey(
        Room, verbose_name="room", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason_for_visit = encryption.EncryptedTextField(
        "reason for visit", blank=True, help_text="Encrypted. Copied to every appointment of the series."
    )

    class Meta:
        verbose_name = "appointment series"
        verbose_name_plural = "appointment series"
        ordering = ["-start"]

    def __str__(self):
        return f"series {domain.short_id(self.id)}"

    def clean_fields(self, exclude=None):
        super().clean_fields(exclude={*(exclude or ()), *_derived_end(self)})

    def clean(self):
        try:
            series = self.to_domain(with_audit=False).validated(
                longest=policy.longest(), zone=policy.zone(), today=policy.today() if self._state.adding else None
            )
        except RuleViolation as violation:
            _raise_reported(self, violation.errors)
            return
        self.update_from_domain(series)

    def to_domain(self, *, with_audit=True) -> domain.Series:
        """Return the domain Series this row holds."""
        return domain.Series(
            id=self.id,
            patient_id=self.patient_id,
            clinician_id=self.clinician_id,
            start=self.start,
            end=self.end,
            frequency=domain.Frequency(self.frequency),
            count=self.count,
            until=self.until,
            kind=domain.Kind(self.kind),
            modality=domain.Modality(self.modality),
            room_id=self.room_id,
            reason_for_visit=self.reason_for_visit or "",
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, series: domain.Series) -> None:
        """Copy the details of `series` onto this row (identity and audit excluded)."""
        self.patient_id = series.patient_id
        self.clinician_id = series.clinician_id
        self.start, self.end = series.start, series.end
        self.frequency = series.frequency.value
        self.count, self.until = series.count, series.until
        self.kind, self.modality = series.kind.value, series.modality.value
        self.room_id = series.room_id
        self.reason_for_visit = series.reason_for_visit


class Appointment(AuditedModel):
    """A visit of one patient with one clinician at a time, and its status.

    The status follows the lifecycle in `appointments.domain.TRANSITIONS` and is changed only by
    the services (check in, complete, cancel, no-show, reschedule); each change is a history row
    naming who made it and when.
    """

    patient = models.ForeignKey(
        "patients.Patient",
        verbose_name="patient",
        on_delete=models.PROTECT,
        related_name="appointments",
        db_index=False,  # covered by the (patient, start) index
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="clinician",
        on_delete=models.PROTECT,
        related_name="appointments",
        db_index=False,  # covered by the (clinician, start) index
    )
    start = models.DateTimeField("start")
    end = models.DateTimeField("end")
    kind = models.CharField("kind", max_length=30, choices=_choices(domain.Kind), default=domain.Kind.THERAPY.value)
    modality = models.CharField(
        "modality", max_length=20, choices=_choices(domain.Modality), default=domain.Modality.IN_PERSON.value
    )
    room = models.ForeignKey(
        Room,
        verbose_name="room",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        db_index=False,
        help_text="Required in person; none for telehealth.",
    )
    reason_for_visit = encryption.EncryptedTextField("reason for visit", blank=True, help_text="Encrypted.")
    status = models.CharField(
        "status",
        max_length=20,
        choices=_choices(domain.Status),
        default=domain.Status.SCHEDULED.value,
        help_text="Changed only with the Check in, Complete, Cancel, No-show and Reschedule buttons.",
    )
    status_changed_at = models.DateTimeField("status changed", null=True, blank=True)
    checked_in_at = models.DateTimeField("checked in", null=True, blank=True)
    cancelled_by = models.CharField("cancelled by", max_length=10, choices=_choices(domain.CancelledBy), blank=True)
    cancellation_reason = encryption.EncryptedTextField("cancellation reason", blank=True, help_text="Encrypted.")
    late_cancellation = models.BooleanField(
        "late cancellation",
        default=False,
        help_text="Cancelled inside the late-cancellation window (24 hours by default) before the start.",
    )
    replaced_by = models.OneToOneField(
        "self",
        verbose_name="replaced by",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="replaces",
        help_text="The appointment this one was rescheduled to.",
    )
    series = models.ForeignKey(
        AppointmentSeries,
        verbose_name="series",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
    )

    class Meta:
        verbose_name = "appointment"
        ordering = ["start"]
        indexes = [
            # A clinician's day, and the overlap checks, are range scans of these.
            models.Index(fields=["clinician", "start"], name="appointments_clinician_start"),
            models.Index(fields=["patient", "start"], name="appointments_patient_start"),
            models.Index(fields=["room", "start"], name="appointments_room_start"),
            models.Index(fields=["start"], name="appointments_start"),
            models.Index(fields=["status", "end"], name="appointments_status_end"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="appointments_ends_after_start"),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in domain.Status]), name="appointments_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=[k.value for k in domain.Kind]), name="appointments_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(modality=domain.Modality.IN_PERSON.value, room__isnull=False)
                | models.Q(modality=domain.Modality.TELEHEALTH.value, room__isnull=True),
                name="appointments_room_only_in_person",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status=domain.Status.CANCELLED.value, cancelled_by__in=[c.value for c in domain.CancelledBy]
                )
                | (~models.Q(status=domain.Status.CANCELLED.value) & models.Q(cancelled_by="")),
                name="appointments_cancellation_has_party",
            ),
        ]

    def __str__(self):
        # The admin log stores str(obj) in plaintext: a short id names it without any PHI.
        return domain.label(self.id)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The day it was loaded on: a save that moves it must forget that day's tally too.
        instance._loaded_start = instance.__dict__.get("start")
        return instance

    def clean_fields(self, exclude=None):
        # The replacement of a rescheduled appointment is inserted in the same transaction, just
        # after this row releases its time; the database's deferred foreign key checks the link.
        super().clean_fields(exclude={*(exclude or ()), "replaced_by", *_derived_end(self)})

    def clean(self):
        candidate = self.to_domain(with_audit=False)
        stored = None if self._state.adding else type(self).objects.filter(pk=self.pk).first()
        # The start's bounds bind a new or moved booking; an old visit may still change status.
        moved = stored is None or stored.start != self.start
        try:
            candidate = candidate.validated(longest=policy.longest(), today=policy.today() if moved else None)
            if stored is not None:
                domain.check_change(stored.to_domain(with_audit=False), candidate)
        except RuleViolation as violation:
            _raise_reported(self, violation.errors)
            return
        self.update_from_domain(candidate)

    def to_domain(self, *, with_audit=True) -> domain.Appointment:
        """Return the domain Appointment this row holds."""
        return domain.Appointment(
            id=self.id,
            patient_id=self.patient_id,
            clinician_id=self.clinician_id,
            start=self.start,
            end=self.end,
            kind=domain.Kind(self.kind),
            modality=domain.Modality(self.modality),
            room_id=self.room_id,
            reason_for_visit=self.reason_for_visit or "",
            status=domain.Status(self.status),
            status_changed_at=self.status_changed_at,
            checked_in_at=self.checked_in_at,
            cancelled_by=domain.CancelledBy(self.cancelled_by) if self.cancelled_by else None,
            cancellation_reason=self.cancellation_reason or "",
            late_cancellation=self.late_cancellation,
            replaced_by_id=self.replaced_by_id,
            series_id=self.series_id,
            audit=self.audit_info() if with_audit and not self._state.adding else None,
        )

    def update_from_domain(self, appointment: domain.Appointment) -> None:
        """Copy `appointment` onto this row (identity and audit excluded)."""
        self.patient_id = appointment.patient_id
        self.clinician_id = appointment.clinician_id
        self.start, self.end = appointment.start, appointment.end
        self.kind, self.modality = appointment.kind.value, appointment.modality.value
        self.room_id = appointment.room_id
        self.reason_for_visit = appointment.reason_for_visit
        self.status = appointment.status.value
        self.status_changed_at = appointment.status_changed_at
        self.checked_in_at = appointment.checked_in_at
        self.cancelled_by = appointment.cancelled_by.value if appointment.cancelled_by else ""
        self.cancellation_reason = appointment.cancellation_reason
        self.late_cancellation = appointment.late_cancellation
        self.replaced_by_id = appointment.replaced_by_id
        self.series_id = appointment.series_id


REQUIRED = {"patient": "patient_id", "clinician": "clinician_id", "start": "start", "end": "end"}


def _derived_end(row) -> tuple[str, ...]:
    """Return ("end",) when the row's end is left for clean() to derive from its kind (domain.usual_end)."""
    return ("end",) if row.end is None and row.start is not None else ()


def _raise_reported(row, errors: dict[str, list[str]]) -> None:
    """Raise the domain's errors as a ValidationError, minus the missing values clean_fields reports."""
    reported = {
        field: messages
        for field, messages in errors.items()
        if not (field in REQUIRED and getattr(row, REQUIRED[field]) is None)
    }
    if reported:
        raise ValidationError(reported)


class DayTally(models.Model):
    """How many visits, late cancellations and no-shows one past day held: a cache, not a record.

    The dashboard's weeks are summed from these instead of counting every appointment of twelve
    weeks on every visit to the index (`appointments.tallies`). Derived from the appointments,
    holding no patient and no PHI, so not audited: a row is deleted whenever an appointment of
    its day is saved or deleted, and is recomputed from the appointments when missing or older
    than `tallies.FRESH_FOR`.
    """

    day = models.DateField("day")
    zone = models.CharField("time zone", max_length=64, help_text="The clinic time zone the day is counted in.")
    visits = models.PositiveIntegerField("visits")
    late_cancellations = models.PositiveIntegerField("late cancellations")
    no_shows = models.PositiveIntegerField("no-shows")
    computed_at = models.DateTimeField("computed at")

    class Meta:
        verbose_name = "day tally"
        constraints = [models.UniqueConstraint(fields=["zone", "day"], name="appointments_day_tally_unique")]

    def __str__(self):
        return f"{self.day.isoformat()} ({self.zone})"
