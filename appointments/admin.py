"""The schedule in the admin: booking with conflict checks, status buttons, day sheets, series.

The status and its details are read-only everywhere; they change only through the buttons on an
appointment's page and the list's actions, which call the services. A clash is a form error
that links to the appointment it clashes with.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html

from appointments import domain, forms, models, policy, repository, schedule, services, views
from novamind.admin import AuditedAdmin, CappedCountPaginator, ListingFormSet, ReadOnlyListingInline, next_url
from novamind.domain import AccessDenied, ConcurrencyError, DomainError, NotFound, RuleViolation, parse_count, parse_id
from patients import display
from patients import policy as access_policy
from patients.admin import PatientPickerMixin, register_patient_inline

ACCESS_CATEGORY = schedule.ACCESS_CATEGORY
STATUS_FIELDS = (
    "status",
    "status_changed_at",
    "checked_in_at",
    "cancelled_by",
    "late_cancellation",
    "cancellation_reason",
    "replaced_by_link",
    "replaces_link",
    "series_link",
)
VISIT_FIELDS = ("patient", "clinician", "start", "end", "kind", "modality", "room", "reason_for_visit")
TRANSITIONS = {
    # button name: (service, status it leads to, past participle for the message)
    "check_in": (services.appointment_check_in, domain.Status.CHECKED_IN, "checked in"),
    "complete": (services.appointment_complete, domain.Status.COMPLETED, "completed"),
    "no_show": (services.appointment_mark_no_show, domain.Status.NO_SHOW, "marked as a no-show"),
}


def plain(error: DomainError) -> str:
    """Return an error's messages as one sentence for a message banner (no field names)."""
    if isinstance(error, RuleViolation):
        return " ".join(message for messages_ in error.errors.values() for message in messages_)
    return str(error)


def local_span(appointment: domain.Appointment) -> str:
    """Return "Tue 3 Mar 2026, 10:00–10:50" in the clinic's time zone."""
    return domain.span(appointment, policy.zone())


# --- rooms ---------------------------------------------------------------------------------------


@admin.register(models.Room)
class RoomAdmin(AuditedAdmin):
    list_display = ("name", "is_active")
    list_filter = ("is_active",)
    search_fields = ("name",)
    fields = ("name", "is_active")
    access_category = ACCESS_CATEGORY

    def save_model(self, request, obj, form, change):
        services.room_save(room=obj, actor=request.user)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.resolver_match and request.resolver_match.url_name == "autocomplete":
            # The room pickers (appointments.forms.use_pickers) offer the rooms in use only.
            queryset = queryset.filter(is_active=True)
        return queryset, may_have_duplicates


# --- filters -------------------------------------------------------------------------------------


class ClinicianFilter(admin.SimpleListFilter):
    """Filter the schedule by clinician (everyone who can be booked or has been)."""

    title = "clinician"
    parameter_name = "clinician"

    def lookups(self, request, model_admin):
        # EXISTS, one index probe per user: "id IN (every appointment's clinician)" ORed with the
        # bookable ones cannot be a semi-join, and once the appointments outgrow work_mem
        # PostgreSQL rescanned them for every user (1.8 s at 1,000,000 appointments).
        booked = Exists(models.Appointment.objects.filter(clinician_id=OuterRef("pk")))
        users = (
            get_user_model()
            .objects.filter(booked | Q(pk__in=repository.bookable_clinicians().values("pk")))
            .select_related("staff_profile")
        )
        return sorted(((user.pk, schedule.clinician_label(user)) for user in users), key=lambda item: item[1])

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if parse_count(str(value)) is None:
            return queryset.none()
        return queryset.filter(clinician_id=int(value))


class StartDateFilter(admin.DateFieldListFilter):
    """The start filter, today first: Today, Tomorrow, the next and past 7 days, this month and year.

    The list opens on today (`views.opening_query`), so "Any date" is a parameter of its own
    (`start__any=1`), which keeps the list on every day. Days are the clinic's local days, their
    bounds correct across a daylight-saving change.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.lookup_kwarg_any = f"{field_path}__any"
        super().__init__(field, request, params, model, model_admin, field_path)
        today = policy.today()
        month = today.replace(day=1)
        next_month = (month + dt.timedelta(days=32)).replace(day=1)
        year = today.replace(month=1, day=1)

        def between(first, days):
            start, end = views.span(first, days)
            return {self.lookup_kwarg_since: start, self.lookup_kwarg_until: end}

        self.links = (
            ("Any date", {self.lookup_kwarg_any: "1"}),
            ("Today", between(today, 1)),
            ("Tomorrow", between(today + dt.timedelta(days=1), 1)),
            ("Next 7 days", between(today, 7)),
            ("Past 7 days", between(today - dt.timedelta(days=7), 8)),
            ("This month", between(month, (next_month - month).days)),
            ("This year", between(year, (year.replace(year=year.year + 1) - year).days)),
        )

    def expected_parameters(self):
        return [*super().expected_parameters(), self.lookup_kwarg_any]

    def queryset(self, request, queryset):
        self.used_parameters.pop(self.lookup_kwarg_any, None)  # "any date" filters nothing
        for key in (self.lookup_kwarg_since, self.lookup_kwarg_until):
            value = self.used_parameters.get(key)
            if isinstance(value, list):  # an address may repeat a parameter: Django keeps each value
                self.used_parameters[key] = [_local_moment(item) for item in value]
        return super().queryset(request, queryset)

    def choices(self, changelist):
        for choice in super().choices(changelist):
            # An address with no date (a clinician's appointments, a search) shows any date too.
            if choice["display"] == "Any date" and not self.date_params:
                choice["selected"] = True
            yield choice


def _local_moment(value):
    """Return a date or time typed in an address as an aware datetime (local when no zone is given).

    What cannot be read is returned as it is, for the list to report as a wrong address.
    """
    if not isinstance(value, str):
        return value
    try:
        moment = parse_datetime(value.strip())
        if moment is None:
            day = parse_date(value.strip())
            moment = dt.datetime.combine(day, dt.time.min) if day is not None else None
        if moment is None:
            return value
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, policy.zone())
        moment.astimezone(dt.UTC)  # year 1 or 9999 may not convert: refused below, not a 500
    except (ValueError, OverflowError) as error:
        raise IncorrectLookupParameters(error) from None
    return moment


# --- read-only listings for the patient page and the series page ---------------------------------


class LimitedListingFormSet(ListingFormSet):
    """The kernel's read-only listing, showing at most `limit` rows."""

    limit: int | None = None

    def get_queryset(self):
        # Kept once: a fresh slice on every call would run the query again for each row
        # (the formset asks for its length per form), two queries per listed appointment.
        if not hasattr(self, "_limited_queryset"):
            queryset = super().get_queryset()
            self._limited_queryset = queryset[: self.limit] if self.limit else queryset
        return self._limited_queryset


class AppointmentListing(ReadOnlyListingInline):
    """Appointments shown as a table with a link to each; nothing editable."""

    model = models.Appointment
    formset = LimitedListingFormSet
    show_change_link = False
    fields = ("when", "clinician_name", "kind", "place", "status_text")
    readonly_fields = fields
    ordering = ("start",)

    @admin.display(description="when")
    def when(self, obj):
        return format_html(
            '<a href="{}">{}</a>', forms.appointment_link(obj.pk), local_span(obj.to_domain(with_audit=False))
        )

    @admin.display(description="clinician")
    def clinician_name(self, obj):
        return schedule.clinician_label(obj.clinician)

    @admin.display(description="place")
    def place(self, obj):
        return obj.room.name if obj.room_id else domain.Modality(obj.modality).label

    @admin.display(description="status")
    def status_text(self, obj):
        text = domain.Status(obj.status).label
        return f"{text} (late)" if obj.late_cancellation else text

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("clinician", "clinician__staff_profile", "room")


class UpcomingAppointmentsInline(AppointmentListing):
    verbose_name = "upcoming appointment"
    verbose_name_plural = "upcoming appointments"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(end__gt=timezone.now()).order_by("start")


class PastListingFormSet(LimitedListingFormSet):
    limit = 20


class PastAppointmentsInline(AppointmentListing):
    verbose_name = "past appointment"
    verbose_name_plural = "past appointments (the latest 20)"
    formset = PastListingFormSet

    def get_queryset(self, request):
        return super().get_queryset(request).filter(end__lte=timezone.now()).order_by("-start")


register_patient_inline(UpcomingAppointmentsInline)
register_patient_inline(PastAppointmentsInline)


class SeriesAppointmentsInline(AppointmentListing):
    verbose_name_plural = "appointments of the series"
    fields = ("when", "clinician_name", "place", "status_text")
    readonly_fields = fields


# --- appointments --------------------------------------------------------------------------------


@admin.register(models.Appointment)
class AppointmentAdmin(display.PatientColumnMixin, PatientPickerMixin, AuditedAdmin):
    form = forms.AppointmentForm
    access_category = ACCESS_CATEGORY
    list_display = ("when", "clinician_name", "patient_column", "kind", "place", "status_text")
    list_display_links = ("when",)
    list_filter = (
        ClinicianFilter,
        "status",
        "kind",
        "modality",
        ("start", StartDateFilter),
        "late_cancellation",
    )
    # No date_hierarchy: its top level is a DISTINCT over the start of every appointment the user
    # may see, which grows with the clinic. The start filter above, and ?start__year=… &
    # start__month=… & start__day=… addresses, narrow by date on the start index instead.
    search_fields = ("patient__mrn",)
    search_help_text = "A patient's MRN, exactly (e.g. NM12345678)."
    list_select_related = ("clinician", "clinician__staff_profile", "room")  # patients: PatientColumnMixin
    list_per_page = 100
    show_full_result_count = False
    paginator = CappedCountPaginator  # an exact count would read every appointment the user may see
    ordering = ("start",)
    autocomplete_fields = ("patient",)
    actions = ("check_in_selected", "complete_selected", "no_show_selected", "cancel_selected")

    def get_queryset(self, request):
        # A clinician sees the appointments of the patients in their care (patients.policy).
        return access_policy.restrict(super().get_queryset(request), request.user)

    # --- the form ------------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        patient = "patient_display" if obj is not None else "patient"
        settled = obj is not None and obj.status != domain.Status.SCHEDULED.value
        clinician = "clinician_display" if settled else "clinician"
        visit = (
            "Visit",
            {"fields": (patient, clinician, ("start", "end"), "kind", ("modality", "room"), "reason_for_visit")},
        )
        if obj is None:
            return [visit]
        status = (
            "Status",
            {
                "fields": (
                    "status",
                    "status_changed_at",
                    "checked_in_at",
                    ("cancelled_by", "late_cancellation"),
                    "cancellation_reason",
                    "replaced_by_link",
                    "replaces_link",
                    "series_link",
                )
            },
        )
        record = (
            "Record",
            {
                "classes": ("collapse",),
                "fields": (("created_by", "created_at"), ("updated_by", "updated_at"), "version"),
            },
        )
        return [visit, status, record]

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj), *STATUS_FIELDS]
        if obj is not None:
            fields.append("patient_display")
            if obj.status != domain.Status.SCHEDULED.value:
                fields.append("clinician_display")
                # Its time, people and place are history now; only the buttons act on it.
                fields.extend(VISIT_FIELDS)
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinician":
            kwargs["queryset"] = (
                repository.bookable_clinicians().select_related("staff_profile").order_by("last_name", "username")
            )
            kwargs["form_class"] = forms.ClinicianChoiceField
            kwargs["widget"] = forms.ClinicianSearchSelect(self.admin_site)
        elif db_field.name == "room":
            kwargs["queryset"] = models.Room.objects.filter(is_active=True)
            kwargs["widget"] = forms.SafeAutocompleteSelect(db_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "clinician" and isinstance(getattr(field, "widget", None), RelatedFieldWidgetWrapper):
            # A clinician is a user with a staff profile, not something to create from here.
            field.widget.can_add_related = field.widget.can_change_related = field.widget.can_view_related = False
        return field

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        # Prefilled from links (the day sheet's "book"); a garbled value is dropped, not a 500.
        if "clinician" in initial and parse_count(str(initial["clinician"])) is None:
            del initial["clinician"]
        start = forms.parse_local(request.GET.get("start", ""))
        end = forms.parse_local(request.GET.get("end", ""))
        initial.pop("start", None)
        initial.pop("end", None)
        if initial.get("kind") not in {kind.value for kind in domain.Kind}:
            initial.pop("kind", None)
        if start is not None and domain.start_error(start, today=policy.today()) is None:
            initial["start"] = start
            # The link's end if it is a sensible one (the free-slot finder's), else the kind's usual length.
            fits = end is not None and start < end <= start + policy.longest()
            initial["end"] = (
                end
                if fits
                else domain.usual_end(start, None, domain.Kind(initial.get("kind", domain.Kind.THERAPY.value)))
            )
        return initial

    def save_model(self, request, obj, form, change):
        # The form has shown every rule's error next to its field; the service asks the policy
        # and checks again inside the transaction the admin opened for this request.
        if change:
            stored = services.appointment_change(appointment=obj.to_domain(), actor=request.user)
        else:
            stored = services.appointment_book(appointment=obj.to_domain(with_audit=False), actor=request.user)
        obj.version = stored.audit.version

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        context = {**(extra_context or {}), **self._workflow_context(request, object_id)}
        if object_id is None:
            context["free_slots_url"] = views.free_slots_link()
        return super().changeform_view(request, object_id, form_url, context)

    def refusal_message(self, refusal):
        # Someone booked the slot (or changed the record) between our check and our save: the
        # clash names times and an appointment's short id, never the patient.
        return f"Nothing was saved. {plain(refusal)}"

    # --- list columns and read-only fields ----------------------------------------------------------

    @admin.display(description="when", ordering="start")
    def when(self, obj):
        return local_span(obj.to_domain(with_audit=False))

    @admin.display(description="clinician", ordering="clinician__last_name")
    def clinician_name(self, obj):
        return schedule.clinician_label(obj.clinician)

    @admin.display(description="clinician")
    def clinician_display(self, obj):
        return schedule.clinician_label(obj.clinician)

    @admin.display(description="patient")
    def patient_display(self, obj):
        url = reverse("admin:patients_patient_change", args=[obj.patient_id])
        return format_html('<a href="{}">{}</a>', url, display.patient_label(obj.patient))

    @admin.display(description="place")
    def place(self, obj):
        return obj.room.name if obj.room_id else domain.Modality(obj.modality).label

    @admin.display(description="status", ordering="status")
    def status_text(self, obj):
        text = domain.Status(obj.status).label
        return f"{text} (late)" if obj.late_cancellation else text

    @admin.display(description="rescheduled to")
    def replaced_by_link(self, obj):
        if not obj.replaced_by_id:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', forms.appointment_link(obj.replaced_by_id), domain.label(obj.replaced_by_id)
        )

    @admin.display(description="rescheduled from")
    def replaces_link(self, obj):
        previous = models.Appointment.objects.filter(replaced_by_id=obj.pk).values_list("pk", flat=True).first()
        if previous is None:
            return "—"
        return format_html('<a href="{}">{}</a>', forms.appointment_link(previous), domain.label(previous))

    @admin.display(description="series")
    def series_link(self, obj):
        if not obj.series_id:
            return "—"
        url = reverse("admin:appointments_appointmentseries_change", args=[obj.series_id])
        return format_html('<a href="{}">{}</a>', url, f"series {domain.short_id(obj.series_id)}")

    # --- extra pages ------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("day/", view(self.day_view), name="appointments_appointment_day"),
            path("free-slots/", view(self.free_slots_view), name="appointments_appointment_free_slots"),
            path("week/", view(self.week_view), name="appointments_appointment_week"),
            path("clinicians/", view(self.clinician_search_view), name=forms.CLINICIAN_SEARCH_URL),
            path(
                "<path:object_id>/transition/", view(self.transition_view), name="appointments_appointment_transition"
            ),
            path("<path:object_id>/cancel/", view(self.cancel_view), name="appointments_appointment_cancel"),
            path(
                "<path:object_id>/reschedule/", view(self.reschedule_view), name="appointments_appointment_reschedule"
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        # The list opens on today. "Select all" posts to the address the page was opened at, so
        # it acts on the rows that page stood for: today's.
        if not request.GET and (request.method == "GET" or request.POST.get("select_across") == "1"):
            request.GET = views.opening_query()
        context = {
            **(extra_context or {}),
            **views.day_links(request.GET, request.path),
            "day_url": reverse("admin:appointments_appointment_day"),
            "series_url": reverse("admin:appointments_appointmentseries_plan"),
            "week_url": reverse("admin:appointments_appointment_week"),
            "free_slots_url": views.free_slots_link() if self.has_add_permission(request) else None,
        }
        return super().changelist_view(request, context)

    def _workflow_context(self, request, object_id) -> dict:
        if object_id is None or not self.has_change_permission(request):
            return {}
        appointment = self._visible(request, object_id)
        if appointment is None:  # a garbage, unknown or hidden id: the change view answers 404 itself
            return {}
        allowed = domain.TRANSITIONS[appointment.status]
        return {
            "appointment": appointment,
            "buttons": [
                (name, label)
                for name, label in (("check_in", "Check in"), ("complete", "Complete"), ("no_show", "No-show"))
                if TRANSITIONS[name][1] in allowed
            ],
            "may_cancel": domain.Status.CANCELLED in allowed,
            "may_reschedule": domain.Status.RESCHEDULED in allowed,
            "transition_url": reverse("admin:appointments_appointment_transition", args=[appointment.id]),
            "cancel_url": reverse("admin:appointments_appointment_cancel", args=[appointment.id]),
            "reschedule_url": reverse("admin:appointments_appointment_reschedule", args=[appointment.id]),
        }

    def _visible(self, request, object_id) -> domain.Appointment | None:
        """Return the appointment if this user's (policy-restricted) list holds it, else None."""
        if parse_id(object_id) is None:
            return None
        row = self.get_queryset(request).filter(pk=object_id).first()
        return row.to_domain() if row is not None else None

    def _workflow_appointment(self, request, object_id) -> domain.Appointment:
        self._require_uuid(object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        # The same restricted read as the list and the change page: outside care it is a 404.
        appointment = self._visible(request, object_id)
        if appointment is None:
            raise Http404("No such appointment.")
        return appointment

    def _done(self, request, appointment_id, message):
        row = models.Appointment.objects.get(pk=appointment_id)
        self.log_change(request, row, message)
        self.message_user(request, f"{domain.label(appointment_id).capitalize()}: {message.lower()}.", messages.SUCCESS)

    def transition_view(self, request, object_id):
        """Check in, complete or mark a no-show: one POST from a button, then back to the page."""
        appointment = self._workflow_appointment(request, object_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        change_url = forms.appointment_link(appointment.id)
        action = TRANSITIONS.get(request.POST.get("action", ""))
        version = request.POST.get("version", "")
        if action is None or parse_count(version) is None:
            self.message_user(request, "That button does not exist; reload the page.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        service, _, done = action
        try:
            service(appointment_id=appointment.id, version=int(version), actor=request.user)
        except (RuleViolation, ConcurrencyError, NotFound, AccessDenied) as error:
            self.message_user(request, f"Nothing was changed. {plain(error)}", messages.ERROR)
        else:
            self._done(request, appointment.id, done.capitalize())
        return HttpResponseRedirect(_back_to(request, change_url))

    def cancel_view(self, request, object_id):
        """Ask who cancelled and why (and whether the rest of the series goes), then cancel."""
        appointment = self._workflow_appointment(request, object_id)
        change_url = forms.appointment_link(appointment.id)
        in_series = appointment.series_id is not None
        form = forms.CancelForm(request.POST or None, in_series=in_series)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data.get("scope") == forms.CancelForm.SERIES:
                    cancelled = services.series_cancel_from(
                        appointment_id=appointment.id, by=data["by"], reason=data["reason"], actor=request.user
                    )
                else:
                    cancelled = [
                        services.appointment_cancel(
                            appointment_id=appointment.id,
                            by=data["by"],
                            reason=data["reason"],
                            version=_version(request),
                            actor=request.user,
                        )
                    ]
            except (ConcurrencyError, AccessDenied) as error:
                self.message_user(request, f"Nothing was changed. {error}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            except RuleViolation as violation:
                forms.add_rule_errors(form, violation)
            else:
                for item in cancelled:
                    self._done(
                        request,
                        item.id,
                        f"Cancelled by the {item.cancelled_by.value}" + (" (late)" if item.late_cancellation else ""),
                    )
                return HttpResponseRedirect(change_url)
        late = domain.is_late_cancellation(appointment.start, timezone.now(), policy.late_cancellation_window())
        return self._workflow_page(
            request,
            appointment,
            form,
            title="Cancel appointment",
            submit="Cancel appointment",
            form_id="cancel-form",
            explanation=(
                f"Cancelling now is a late cancellation (less than {_hours(policy.late_cancellation_window())} before the start)."
                if late
                else "Cancelling now is in time (not a late cancellation)."
            ),
        )

    def reschedule_view(self, request, object_id):
        """Book a replacement at a new time; this appointment is kept, marked rescheduled, linked to it."""
        appointment = self._workflow_appointment(request, object_id)
        change_url = forms.appointment_link(appointment.id)
        if domain.Status.RESCHEDULED not in domain.TRANSITIONS[appointment.status]:
            self.message_user(
                request, plain(domain.TransitionRefused(appointment.status, domain.Status.RESCHEDULED)), messages.ERROR
            )
            return HttpResponseRedirect(change_url)
        initial = {
            "start": timezone.localtime(appointment.start),
            "end": timezone.localtime(appointment.end),
            "clinician": appointment.clinician_id,
            "modality": appointment.modality.value,
            "room": appointment.room_id,
        }
        form = forms.RescheduleForm(request.POST or None, initial=initial, admin_site=self.admin_site)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                old, new = services.appointment_reschedule(
                    appointment_id=appointment.id,
                    start=data["start"],
                    end=data["end"],
                    clinician_id=data["clinician"].pk,
                    modality=data["modality"],
                    room_id=data["room"].pk if data["room"] else None,
                    version=_version(request),
                    actor=request.user,
                )
            except (ConcurrencyError, AccessDenied) as error:
                self.message_user(request, f"Nothing was changed. {error}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            except RuleViolation as violation:
                forms.add_rule_errors(form, violation)
            else:
                self.log_change(
                    request, models.Appointment.objects.get(pk=old.id), f"Rescheduled to {domain.label(new.id)}"
                )
                self.log_addition(
                    request,
                    models.Appointment.objects.get(pk=new.id),
                    f"Booked as the replacement of {domain.label(old.id)}",
                )
                self.message_user(
                    request,
                    f"{domain.label(old.id).capitalize()} was rescheduled to {local_span(new)}; this is the new appointment.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(forms.appointment_link(new.id))
        return self._workflow_page(
            request,
            appointment,
            form,
            title="Reschedule appointment",
            submit="Reschedule",
            form_id="reschedule-form",
            explanation=(
                "A new appointment is booked at the new time and this one is kept, marked rescheduled and linked to it."
            ),
        )

    def _workflow_page(self, request, appointment, form, *, title, submit, form_id, explanation):
        # The access log's action is short (32 characters): "view cancel form", "view reschedule form".
        self.log_access(
            request, f"view {form_id.removesuffix('-form')} form", models.Appointment.objects.get(pk=appointment.id)
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "form": form,
            "appointment": appointment,
            "summary": f"{domain.label(appointment.id).capitalize()}: {appointment.kind.label.lower()}, {local_span(appointment)}",
            "explanation": explanation,
            "submit_label": submit,
            "form_id": form_id,
            "change_url": forms.appointment_link(appointment.id),
            "version": appointment.audit.version,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/appointments/appointment/workflow_form.html", context)

    def day_view(self, request):
        """Show one clinician's day at a glance, with links to the previous and next day."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        data = request.GET.copy() if request.GET else QueryDict(mutable=True)
        if not data.get("clinician"):
            me = repository.bookable_clinicians().filter(pk=request.user.pk).first()
            first = me or repository.bookable_clinicians().order_by("last_name", "username").first()
            if first is not None:
                data["clinician"] = str(first.pk)
        data.setdefault("date", timezone.localdate().isoformat())
        form = forms.DaySheetForm(data, admin_site=self.admin_site)
        sheet, links = None, {}
        if form.is_valid():
            clinician, day = form.cleaned_data["clinician"], form.cleaned_data["date"]
            sheet = schedule.day_sheet(clinician=clinician, day=day, reader=request.user, request=request)
            base = reverse("admin:appointments_appointment_day")
            links = {
                "previous_url": f"{base}?clinician={clinician.pk}&date={(day - dt.timedelta(days=1)).isoformat()}",
                "next_url": f"{base}?clinician={clinician.pk}&date={(day + dt.timedelta(days=1)).isoformat()}",
                "today_url": f"{base}?clinician={clinician.pk}&date={timezone.localdate().isoformat()}",
                "book_url": reverse("admin:appointments_appointment_add")
                + f"?clinician={clinician.pk}&start={day.isoformat()}T09:00",
                "week_url": views.week_link(clinician.pk, day),
                "free_slots_url": views.free_slots_link(clinician.pk) if self.has_add_permission(request) else None,
            }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Day sheet",
            "form": form,
            "sheet": sheet,
            **links,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/appointments/appointment/day_sheet.html", context)

    def free_slots_view(self, request):
        """Find free slots of a clinician (and room, and patient); each is one click from booking."""
        return views.free_slots(self, request)

    def week_view(self, request):
        """Draw a clinician's week, Monday to Sunday, with links to the previous and next week."""
        return views.week(self, request)

    def clinician_search_view(self, request):
        """Answer the clinician pickers as staff type."""
        return views.clinician_search(self, request)

    # --- list actions ------------------------------------------------------------------------------

    ACTION_ERRORS = (RuleViolation, ConcurrencyError, NotFound, AccessDenied)

    def _apply(self, request, queryset, action_name):
        service, _, done = TRANSITIONS[action_name]
        self.act_on_each(
            request,
            queryset.order_by("start"),
            lambda row: service(appointment_id=row.pk, actor=request.user),
            done=f"{done.capitalize()}: {{}}.",
            name=lambda row: domain.label(row.pk),
            refused=lambda row, error: f"Not changed. {domain.label(row.pk).capitalize()}: {plain(error)}",
            catch=self.ACTION_ERRORS,
            log=done.capitalize(),
        )

    @admin.action(description="Check in selected appointments", permissions=["change"])
    def check_in_selected(self, request, queryset):
        self._apply(request, queryset, "check_in")

    @admin.action(description="Complete selected appointments", permissions=["change"])
    def complete_selected(self, request, queryset):
        self._apply(request, queryset, "complete")

    @admin.action(description="Mark selected appointments as no-shows", permissions=["change"])
    def no_show_selected(self, request, queryset):
        self._apply(request, queryset, "no_show")

    @admin.action(description="Cancel selected appointments…", permissions=["change"])
    def cancel_selected(self, request, queryset):
        form = forms.CancelForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self.act_on_each(
                request,
                queryset.order_by("start"),
                lambda row: services.appointment_cancel(
                    appointment_id=row.pk,
                    by=form.cleaned_data["by"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                ),
                done="Cancelled: {}.",
                shown=lambda row, cancelled: domain.label(row.pk) + (" (late)" if cancelled.late_cancellation else ""),
                refused=lambda row, error: f"Not cancelled. {domain.label(row.pk).capitalize()}: {plain(error)}",
                catch=self.ACTION_ERRORS,
                log="Cancelled",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Cancel appointments",
            "form": form,
            "appointments": [
                (row.pk, local_span(row.to_domain(with_audit=False)), domain.Status(row.status).label)
                for row in queryset.order_by("start")
            ],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "action": "cancel_selected",
        }
        return TemplateResponse(request, "admin/appointments/appointment/cancel_selected.html", context)


def _hours(window: dt.timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} hours"


def _back_to(request, default: str) -> str:
    """Return the page a button asked to return to (its posted `next`, this site only), or `default`."""
    return next_url(request, request.POST) or default


def _version(request) -> int | None:
    value = request.POST.get("version", "")
    return parse_count(value)


# --- series --------------------------------------------------------------------------------------


@admin.register(models.AppointmentSeries)
class AppointmentSeriesAdmin(display.PatientColumnMixin, AuditedAdmin):
    """Series are booked with the plan page and are read-only afterwards; their appointments are not."""

    access_category = ACCESS_CATEGORY
    list_display = ("__str__", "clinician_name", "patient_column", "frequency", "first", "count", "until")
    list_filter = ("frequency", "kind", "modality")
    list_select_related = ("clinician", "clinician__staff_profile")  # patients: PatientColumnMixin
    search_fields = ("patient__mrn",)
    search_help_text = "A patient's MRN, exactly (e.g. NM12345678)."
    inlines = [SeriesAppointmentsInline]
    fields = (
        "patient",
        "clinician",
        "start",
        "end",
        "frequency",
        "count",
        "until",
        "kind",
        "modality",
        "room",
        "reason_for_visit",
    )

    def has_change_permission(self, request, obj=None):
        return False  # a booked series is changed through its appointments

    def get_queryset(self, request):
        # The list, change and history pages show only the series of patients the user may see.
        return access_policy.restrict(super().get_queryset(request), request.user)

    @admin.display(description="clinician")
    def clinician_name(self, obj):
        return schedule.clinician_label(obj.clinician)

    @admin.display(description="first appointment", ordering="start")
    def first(self, obj):
        return local_span(obj.to_domain(with_audit=False).first())

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("plan/", view(self.plan_view), name="appointments_appointmentseries_plan"), *super().get_urls()]

    def add_view(self, request, form_url="", extra_context=None):
        return HttpResponseRedirect(reverse("admin:appointments_appointmentseries_plan"))

    def plan_view(self, request):
        """Check a series (every date and its clashes), then book it, all or nothing."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = forms.SeriesForm(request.POST or None, admin_site=self.admin_site, actor=request.user)
        plan, bookable = None, False
        if request.method == "POST" and form.is_valid():
            try:
                if "_book" in request.POST:
                    series, occurrences = services.series_book(series=form.to_domain(), actor=request.user)
                    row = models.AppointmentSeries.objects.get(pk=series.id)
                    self.log_addition(request, row, f"Booked {len(occurrences)} appointments")
                    self.message_user(
                        request, f"{str(row).capitalize()} booked: {len(occurrences)} appointments.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(
                        reverse("admin:appointments_appointmentseries_change", args=[series.id])
                    )
                _, plan = services.series_plan(series=form.to_domain(), actor=request.user)
                bookable = not any(item.conflicts for item in plan)
            except domain.SeriesConflict as conflict:
                plan = conflict.plan
                forms.add_rule_errors(form, conflict)
            except RuleViolation as violation:
                forms.add_rule_errors(form, violation)
            except AccessDenied:
                form.add_error("patient", forms.NOT_VISIBLE)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Book a recurring series",
            "form": form,
            "plan": [
                (
                    local_span(item.appointment),
                    [
                        (conflict.message(policy.zone()), forms.appointment_link(conflict.existing.id))
                        for conflict in item.conflicts
                    ],
                )
                for item in plan or []
            ],
            "clashes": sum(1 for item in plan or [] if item.conflicts),
            "bookable": bookable,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/appointments/appointmentseries/plan.html", context)
