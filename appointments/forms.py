"""The admin's appointment forms: each puts a domain error next to the field it is about."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from appointments import domain, models, policy, repository, schedule, scheduling
from novamind.admin import SafeAutocompleteSelect, VersionedModelForm, show_violation
from novamind.domain import RuleViolation
from patients import display
from patients import models as patient_models
from patients import policy as access_policy

NOT_VISIBLE = "Choose a patient in your care: this one is not."


class ClinicianChoiceField(forms.ModelChoiceField):
    """A choice of clinician, shown as "Dana Lee, MD"."""

    def label_from_instance(self, obj):
        return schedule.clinician_label(obj)


def clinician_field(**kwargs) -> ClinicianChoiceField:
    """Return a field offering the clinicians who can be booked."""
    return ClinicianChoiceField(
        queryset=repository.bookable_clinicians().select_related("staff_profile").order_by("last_name", "username"),
        **kwargs,
    )


def room_field(**kwargs) -> forms.ModelChoiceField:
    """Return a field offering the rooms in use."""
    return forms.ModelChoiceField(queryset=models.Room.objects.filter(is_active=True), required=False, **kwargs)


CLINICIAN_SEARCH_URL = "appointments_clinician_search"
FOR_SLOTS = "slots"  # the finder's clinicians: a user in a care role looks for their own time only


class ClinicianSearchSelect(SafeAutocompleteSelect):
    """The clinician picker: Django's autocomplete select, asking `views.clinician_search`."""

    url_name = f"%s:{CLINICIAN_SEARCH_URL}"

    def __init__(self, admin_site, *, purpose: str = ""):
        super().__init__(models.Appointment._meta.get_field("clinician"), admin_site)
        self.purpose = purpose

    def get_url(self):
        url = super().get_url()
        return f"{url}?{urlencode({'for': self.purpose})}" if self.purpose else url


def use_pickers(form: forms.Form, admin_site, *, clinicians_for: str = "") -> None:
    """Make the form's clinician and room fields search-as-you-type pickers.

    As plain selects they sent every bookable clinician and every room as an option on each page
    (400 of each at a 100,000-patient clinic); a picker renders the chosen one only and finds the
    others as staff type. The fields' querysets still decide what may be chosen.
    """
    if admin_site is None:
        return
    pickers = {
        "clinician": ClinicianSearchSelect(admin_site, purpose=clinicians_for),
        # The rooms' own admin answers (RoomAdmin: search by name, rooms in use only).
        "room": SafeAutocompleteSelect(models.Appointment._meta.get_field("room"), admin_site),
    }
    for name, widget in pickers.items():
        field = form.fields.get(name)
        if field is None:
            continue
        widget.is_required = field.required
        field.widget = widget
        field.queryset = field.queryset  # the setter hands the new widget its choices


def split_datetime_field(label: str, **kwargs) -> forms.SplitDateTimeField:
    """Return a date-and-time field with the admin's calendar and clock."""
    return forms.SplitDateTimeField(label=label, widget=widgets.AdminSplitDateTime(), **kwargs)


def appointment_link(appointment_id) -> str:
    """Return the admin URL of an appointment."""
    return reverse("admin:appointments_appointment_change", args=[appointment_id])


def add_rule_errors(form: forms.Form, violation: RuleViolation) -> None:
    """Show the violation on `form` (novamind.admin.show_violation), each clash linked to its appointment.

    The link lets staff open the appointment it names in one click.
    """
    zone = policy.zone()
    linked = {}
    conflicts = list(getattr(violation, "conflicts", []))
    for item in getattr(violation, "plan", []):
        conflicts.extend(item.conflicts)
    for conflict in conflicts:
        linked[conflict.message(zone)] = format_html(
            '{} <a href="{}" class="clashing-appointment">Open {}</a>',
            conflict.message(zone),
            appointment_link(conflict.existing.id),
            domain.label(conflict.existing.id),
        )
    show_violation(form, violation, render=lambda message: linked.get(message, message), model=models.Appointment)


def usual_lengths_help() -> str:
    """Return the sentence that tells staff what an end left empty becomes."""
    lengths = ", ".join(
        f"{kind.label.lower()} {int(kind.default_length.total_seconds() // 60)} min" for kind in domain.Kind
    )
    return f"Leave empty for the kind's usual length: {lengths}."


class AppointmentForm(VersionedModelForm):
    """The booking form: the domain rules through the model, then the double-booking check.

    The end may be left empty: the appointment then lasts its kind's usual length (the domain's
    `usual_end`, which the model's clean() applies, as every other path does).
    """

    actor = None  # the signed-in user, set by the admin for each request

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "end" in self.fields:
            self.fields["end"].required = False
            self.fields["end"].help_text = usual_lengths_help()

    def _post_clean(self):
        super()._post_clean()
        if self.errors or self.actor is None:
            return
        candidate = self.instance.to_domain(with_audit=False)
        before = None
        if not self.instance._state.adding:
            stored = models.Appointment.objects.filter(pk=self.instance.pk).first()
            before = stored.to_domain(with_audit=False) if stored is not None else None
            if before is not None and all(
                getattr(before, name) == getattr(candidate, name) for name in domain.SCHEDULING_FIELDS
            ):
                return  # only the reason for visit changed: nothing to re-check
        try:
            scheduling.booking_problems(
                candidate,
                appointments=repository.DjangoAppointmentRepository(actor=self.actor),
                before=before,
            )
        except RuleViolation as violation:
            add_rule_errors(self, violation)


class CancelForm(forms.Form):
    """Who cancelled, why, and whether the rest of the series goes too."""

    THIS = "this"
    SERIES = "series"

    by = forms.TypedChoiceField(
        label="Cancelled by",
        choices=[(c.value, c.label) for c in domain.CancelledBy],
        coerce=domain.CancelledBy,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=domain.CANCELLATION_REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Encrypted. For example “patient unwell” or “clinician on leave”.",
    )
    scope = forms.ChoiceField(
        label="Cancel",
        initial=THIS,
        widget=forms.RadioSelect,
        choices=[(THIS, "This appointment only"), (SERIES, "This and all future appointments of its series")],
    )

    def __init__(self, *args, in_series: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not in_series:
            del self.fields["scope"]


class RescheduleForm(forms.Form):
    """The new time (and, if it changes, clinician and place) for a replacement appointment."""

    start = split_datetime_field("New start")
    end = split_datetime_field("New end")
    clinician = clinician_field(label="Clinician")
    modality = forms.TypedChoiceField(
        label="Modality", choices=[(m.value, m.label) for m in domain.Modality], coerce=domain.Modality
    )
    room = room_field(label="Room", help_text="Required in person; leave empty for telehealth.")

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        use_pickers(self, admin_site)


class SeriesForm(forms.Form):
    """A weekly or fortnightly series: the first appointment and how often, how long it runs."""

    patient = forms.ModelChoiceField(queryset=None, label="Patient")
    clinician = clinician_field(label="Clinician")
    start = split_datetime_field("First start")
    end = split_datetime_field("First end", required=False)
    frequency = forms.TypedChoiceField(
        label="Frequency", choices=[(f.value, f.label) for f in domain.Frequency], coerce=domain.Frequency
    )
    count = forms.IntegerField(
        label="Occurrences",
        required=False,
        min_value=1,
        help_text=f"2 to {domain.MAX_OCCURRENCES}; or give a last date.",
    )
    until = forms.DateField(
        label="Last date",
        required=False,
        widget=widgets.AdminDateWidget(),
        help_text="Or give a number of occurrences.",
    )
    kind = forms.TypedChoiceField(
        label="Kind",
        choices=[(k.value, k.label) for k in domain.Kind],
        coerce=domain.Kind,
        initial=domain.Kind.THERAPY.value,
    )
    modality = forms.TypedChoiceField(
        label="Modality", choices=[(m.value, m.label) for m in domain.Modality], coerce=domain.Modality
    )
    room = room_field(label="Room", help_text="Required in person; leave empty for telehealth.")
    reason_for_visit = forms.CharField(
        label="Reason for visit", required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Encrypted."
    )

    def __init__(self, *args, admin_site=None, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["end"].help_text = usual_lengths_help()
        use_pickers(self, admin_site)
        if admin_site is not None:
            self.fields["patient"].widget = display.PatientAutocompleteSelect(
                models.AppointmentSeries._meta.get_field("patient"),
                admin_site,
            )
        # Set after the widget: the queryset setter hands the widget its choices. Only patients
        # the user may see: another patient's id is "not a valid choice", next to the field.
        self.fields["patient"].queryset = access_policy.visible_patients(actor, patient_models.Patient.objects.all())
        display.name_choices(self.fields["patient"])

    def to_domain(self) -> domain.Series:
        """Return the series the form describes (not yet validated by the domain)."""
        data = self.cleaned_data
        return domain.Series(
            patient_id=data["patient"].pk,
            clinician_id=data["clinician"].pk,
            start=data["start"],
            end=data.get("end"),
            frequency=data["frequency"],
            count=data.get("count"),
            until=data.get("until"),
            kind=data["kind"],
            modality=data["modality"],
            room_id=data["room"].pk if data.get("room") else None,
            reason_for_visit=data.get("reason_for_visit", ""),
        )


class DaySheetForm(forms.Form):
    """Which clinician's day to show."""

    clinician = clinician_field(label="Clinician")
    date = forms.DateField(label="Date", widget=widgets.AdminDateWidget())

    def __init__(self, *args, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        use_pickers(self, admin_site)

    def clean_date(self):
        day = self.cleaned_data["date"]
        problem = domain.start_error(day, today=policy.today())
        if problem:
            raise ValidationError(problem)
        return day


def parse_local(value: str) -> dt.datetime | None:
    """Return the aware local datetime an ISO string names, or None when it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


class FreeSlotForm(forms.Form):
    """What to look for: whose time, how long (the kind), where, for whom, from when, how far ahead."""

    clinician = clinician_field(label="Clinician")
    kind = forms.TypedChoiceField(
        label="Kind",
        choices=[(k.value, k.label) for k in domain.Kind],
        coerce=domain.Kind,
        help_text="Slots last the kind's usual length.",
    )
    modality = forms.TypedChoiceField(
        label="Modality", choices=[(m.value, m.label) for m in domain.Modality], coerce=domain.Modality
    )
    room = room_field(label="Room", help_text="Only times this room is free too; or choose it when booking.")
    patient = forms.ModelChoiceField(
        queryset=None, label="Patient", required=False, help_text="Only times the patient is free too."
    )
    weeks = forms.IntegerField(label="Weeks", min_value=1, max_value=schedule.MAX_WEEKS)

    def __init__(self, *args, admin_site=None, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so this field cannot be declared above.
        self.fields["from"] = forms.DateField(label="From", widget=widgets.AdminDateWidget())
        self.order_fields(["clinician", "kind", "modality", "room", "patient", "from", "weeks"])
        self.fields["clinician"].queryset = (
            schedule.slot_clinicians(actor).select_related("staff_profile").order_by("last_name", "username")
        )
        self.fields["clinician"].error_messages["required"] = (
            "Choose the clinician. (A user in a care role looks for their own time, with a clinician's profile.)"
        )
        use_pickers(self, admin_site, clinicians_for=FOR_SLOTS)
        if admin_site is not None:
            self.fields["patient"].widget = display.PatientAutocompleteSelect(
                models.Appointment._meta.get_field("patient"), admin_site
            )
        self.fields["patient"].queryset = access_policy.visible_patients(actor, patient_models.Patient.objects.all())
        display.name_choices(self.fields["patient"])

    def clean_from(self):
        day = self.cleaned_data["from"]
        if day < policy.today():
            raise ValidationError("Look from today or a later day.")
        problem = domain.start_error(day, today=policy.today())
        if problem:
            raise ValidationError(problem)
        return day

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("modality") is domain.Modality.TELEHEALTH and cleaned.get("room") is not None:
            self.add_error("room", "A telehealth visit has no room: clear the room, or look for an in-person visit.")
        return cleaned


class WeekForm(DaySheetForm):
    """Whose week to draw, and a day in it (checked as the day sheet's day is)."""

    date = forms.DateField(label="Week of", widget=widgets.AdminDateWidget())
