"""The patient pages of the admin: exact search over encrypted details, no hard delete."""

import datetime as dt
import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from novamind import access
from novamind.admin import AuditedAdmin, ReadOnlyListingInline
from novamind.domain import RuleViolation, parse_id
from patients import display, domain, models, policy, repository, services

_related_inlines: list = []


def register_patient_inline(inline_class):
    """Show `inline_class` on the patient page (appointments, medications and allergies use it)."""
    _related_inlines.append(inline_class)
    return inline_class


_upper_actions: list = []


def register_patient_action(action):
    """Offer `action` in the patient list: an action of an app above this one (the record export).

    `action` is a function decorated with `admin.action(description=…, permissions=[…])`; it is
    offered to a user who holds those permissions on patients, like the list's own actions.
    """
    _upper_actions.append(action)
    return action


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y")
BIRTH_YEAR = re.compile(r"(19|20)\d\d")  # the domain accepts no birth date before 1900


def parse_search_term(term: str):
    """Return the blind-index criteria the search box means.

    An MRN, a date of birth, an e-mail address or a phone number, exactly; otherwise names: one
    word is the start of a last name ("gar"), a comma adds the start of a first name ("gar,
    oli"), and a birth year or date at the end narrows either ("gar 1984", "gar 1984-03-02").
    Several words without a comma are a full name, exactly ("zoe obrien"), as before prefix
    search; with a year they are the start of a last name of several words ("de la 1984").
    """
    term = " ".join(term.split())
    if domain.is_valid_mrn(term) or re.fullmatch(r"(?i)nm\d{8}", term):
        return {"mrn": term.upper()}
    if (birth_date := _date(term)) is not None:
        return {"date_of_birth": birth_date}
    if "@" in term:
        return {"email": term}
    if re.fullmatch(r"[\d\s()+.\-]+", term) and len(re.sub(r"\D", "", term)) >= 7:
        return {"phone": term}
    criteria = {}
    words, _, last_word = term.rpartition(" ")
    if BIRTH_YEAR.fullmatch(last_word):
        criteria["birth_year"], term = int(last_word), words
    elif words and (birth_date := _date(last_word)) is not None:
        criteria["date_of_birth"], term = birth_date, words
    last, comma, first = (part.strip() for part in term.partition(","))
    if comma or "birth_year" in criteria or " " not in last:
        criteria.update(
            {key: value for key, value in (("last_name_prefix", last), ("first_name_prefix", first)) if value}
        )
    else:
        criteria["name"] = last
    return criteria


def _date(text: str) -> dt.date | None:
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None


class PatientPickerMixin:
    """For the admin of a patient's records: the patient picker offers only the patients the user may see.

    The choices (and the autocomplete, through PatientAdmin's queryset) come from the access
    policy, so a posted other patient is "not one of the choices", next to the patient field;
    a `?patient=` naming a patient the user may not see opens an empty form.
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "patient" and db_field.name in self.get_autocomplete_fields(request):
            # The picker names the patients it finds (patients.display), the chosen one too.
            kwargs.setdefault(
                "widget", display.PatientAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "patient" and field is not None:
            field.queryset = policy.visible_patients(request.user, field.queryset)
            display.name_choices(field)
        return field

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if "patient" in initial and not policy.may_see(request.user, initial["patient"]):
            del initial["patient"]
        return initial


@admin.register(models.Patient)
class PatientAdmin(AuditedAdmin):
    list_display = ("mrn", "name", "born", "status", "updated_at")
    list_display_links = ("mrn", "name")
    list_filter = ("status", "legal_hold", ("created_at", admin.DateFieldListFilter))
    ordering = ("mrn",)
    # Encrypted columns cannot be searched with LIKE; get_search_results uses the blind indexes.
    search_fields = ("mrn",)
    search_help_text = (
        "The start of the last name, then optionally a comma and the start of the first name, and a "
        "birth year or date: gar 1984, garcia, oli, gar 1984-03-02. Or exactly: MRN, full name "
        "(first last), date of birth (YYYY-MM-DD or MM/DD/YYYY), phone or e-mail. Case and accents "
        "do not matter."
    )
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = (
        "medical_record_number",
        "status",
        "legal_hold",
        "legal_hold_reason",
        "legal_hold_changed_by",
        "legal_hold_changed_at",
    )
    actions = ("deactivate", "reactivate", "record_death", "place_legal_hold", "release_legal_hold")
    fieldsets = (
        (
            "Identity",
            {
                "fields": (
                    "medical_record_number",
                    ("legal_first_name", "legal_last_name"),
                    ("preferred_name", "pronouns"),
                    "date_of_birth",
                    ("sex_assigned_at_birth", "gender_identity"),
                    "status",
                )
            },
        ),
        ("Contact", {"fields": ("phone", "email")}),
        (
            "Address",
            {
                "fields": (
                    "address_line1",
                    "address_line2",
                    ("address_city", "address_region"),
                    ("address_postal_code", "address_country"),
                )
            },
        ),
        (
            "Emergency contact",
            {
                "fields": (
                    ("emergency_contact_name", "emergency_contact_relation"),
                    "emergency_contact_phone",
                )
            },
        ),
        (
            "Legal hold",
            {
                "fields": (
                    "legal_hold",
                    "legal_hold_reason",
                    ("legal_hold_changed_by", "legal_hold_changed_at"),
                )
            },
        ),
        (
            "Record",
            {
                "classes": ("collapse",),
                "fields": (
                    ("created_by", "created_at"),
                    ("updated_by", "updated_at"),
                ),
            },
        ),
    )

    @admin.display(description="name")
    def name(self, obj):
        return display.PatientLabel.of(obj).name

    @admin.display(description="date of birth")
    def born(self, obj):
        return display.PatientLabel.of(obj).born()

    @admin.display(description="medical record number")
    def medical_record_number(self, obj):
        # A new patient's MRN is drawn when the record is written (patients.services): any number
        # the add form showed would be one that is never saved.
        if obj is None or obj._state.adding:
            return "Assigned when the patient is saved."
        return obj.mrn

    # --- care: a clinician sees their own patients, or breaks the glass (patients.policy) ---------

    def get_queryset(self, request):
        return policy.visible_patients(request.user, super().get_queryset(request))

    def get_urls(self):
        return [
            path(
                "autocomplete/",
                self.admin_site.admin_view(display.PatientAutocompleteView.as_view(admin_site=self.admin_site)),
                name=display.AUTOCOMPLETE_URL,
            ),
            path(
                "<path:object_id>/emergency-access/",
                self.admin_site.admin_view(self.emergency_access_view),
                name="patients_patient_emergency_access",
            ),
            *super().get_urls(),
        ]

    def _outside_care(self, request, object_id):
        """Return the patient (id and MRN only) if it exists but is outside the user's care, else None."""
        pk = parse_id(object_id)
        if pk is None:
            return None
        if not policy.is_restricted(request.user) or not self.has_view_permission(request):
            return None
        if self.get_queryset(request).filter(pk=pk).exists():
            return None
        return models.Patient.objects.filter(pk=pk).only("id", "mrn").first()

    def get_actions(self, request):
        actions = super().get_actions(request)
        if actions is None or "_popup" in request.GET:  # Django offers no actions in a popup
            return actions
        for action in _upper_actions:
            permissions = getattr(action, "allowed_permissions", ())
            if all(getattr(self, f"has_{name}_permission")(request) for name in permissions):
                actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None and self._outside_care(request, object_id) is not None:
            return self.emergency_access_view(request, object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def emergency_access_view(self, request, object_id):
        """Offer, and on a valid POST make, an emergency access grant to a patient outside the user's care."""
        patient = self._outside_care(request, object_id)
        if patient is None:
            raise Http404("No patient with that ID.")
        target = reverse("admin:patients_patient_change", args=[patient.pk])
        form = EmergencyAccessForm(request.POST if "reason" in request.POST else None)
        if form.is_valid():
            try:
                services.emergency_access_grant(
                    patient_id=patient.pk, reason=form.cleaned_data["reason"], actor=request.user, request=request
                )
            except RuleViolation as violation:
                for field, errors in violation.errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                self.message_user(
                    request,
                    (
                        f"Emergency access to {patient.mrn} granted for {settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES} "
                        f"minutes. Everything you open is flagged for review."
                    ),
                    messages.WARNING,
                )
                return HttpResponseRedirect(target)
        if request.method == "GET":
            access.record(
                user=request.user,
                action="view",
                category=self.access_category,
                patient=patient,
                request=request,
                outcome=access.REFUSED,
                detail="outside the user's care: emergency access offered",
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "patient": patient,
            "title": "Break the glass",
            "minutes": settings.NOVAMIND_EMERGENCY_ACCESS_MINUTES,
            "action_url": reverse("admin:patients_patient_emergency_access", args=[patient.pk]),
        }
        return TemplateResponse(request, "admin/patients/patient/break_glass.html", context, status=403)

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        criteria = parse_search_term(search_term)
        if "mrn" in criteria:
            return queryset.filter(mrn=criteria["mrn"]), False
        return queryset.filter(repository.search_query(**criteria)), False

    def get_inlines(self, request, obj):
        return [*self.inlines, *_related_inlines] if obj is not None else list(self.inlines)

    def save_model(self, request, obj, form, change):
        """Register or update the patient through patients.services (the revert from history too)."""
        if change:
            stored = services.patient_update(patient=obj.to_domain(), actor=request.user)
        else:
            stored = services.patient_register(patient=obj.to_domain(with_audit=False), actor=request.user)
        obj.pk, obj.mrn, obj.version = stored.id, stored.mrn, stored.audit.version
        obj._state.adding = False

    def _set_status(self, request, queryset, status, verb):
        self.act_on_each(
            request,
            queryset,
            lambda row: services.patient_status_set(patient_id=row.pk, status=status, actor=request.user),
            done=f"{verb}: {{}}.",
            name=lambda row: row.mrn,
        )

    @admin.action(description="Deactivate selected patients (records are kept)", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.INACTIVE, "Deactivated")

    @admin.action(description="Reactivate selected patients", permissions=["change"])
    def reactivate(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.ACTIVE, "Reactivated")

    @admin.action(description="Record death of selected patients", permissions=["change"])
    def record_death(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.DECEASED, "Recorded as deceased")

    @admin.action(description="Place a legal hold on selected patients…", permissions=["change"])
    def place_legal_hold(self, request, queryset):
        return self._change_legal_hold(request, queryset, place=True)

    @admin.action(description="Release the legal hold of selected patients…", permissions=["change"])
    def release_legal_hold(self, request, queryset):
        return self._change_legal_hold(request, queryset, place=False)

    def _change_legal_hold(self, request, queryset, *, place):
        """Ask for the reason, then place or release each patient's hold through patients.services."""
        change = services.patient_legal_hold_place if place else services.patient_legal_hold_release
        done = "Legal hold placed" if place else "Legal hold released"
        form = LegalHoldForm(request.POST if "apply" in request.POST else None)
        rows = list(queryset.order_by("mrn"))
        if "apply" in request.POST and form.is_valid():
            self.act_on_each(
                request,
                rows,
                lambda row: change(patient_id=row.pk, reason=form.cleaned_data["reason"], actor=request.user),
                done=f"{done}: {{}}.",
                name=lambda row: row.mrn,
                refused=lambda row, error: f"Not changed. {row.mrn}: {_spoken(error)}",
                log=done,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Place a legal hold" if place else "Release a legal hold",
            "form": form,
            "patients": rows,
            "place": place,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "action": "place_legal_hold" if place else "release_legal_hold",
        }
        return TemplateResponse(request, "admin/patients/patient/legal_hold.html", context)


class LegalHoldForm(forms.Form):
    """The reason for placing or releasing a legal hold (kept encrypted on the patient)."""

    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=domain.HOLD_REASON_MAX,
        help_text="For example the matter or request the hold is for, or why it ends. Stored encrypted.",
    )


class EmergencyAccessForm(forms.Form):
    """Why a patient outside the user's care must be opened now."""

    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        min_length=policy.REASON_MIN,
        max_length=1000,
        help_text="For example: patient in crisis at the front desk, their clinician is away. Reviewed by the auditors.",
    )


# --- Emergency access review -----------------------------------------------------------------


class GrantStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("active", "active"), ("expired", "expired"))

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(expires_at__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


@admin.register(models.EmergencyAccessGrant)
class EmergencyAccessGrantAdmin(display.PatientColumnMixin, AuditedAdmin):
    """Emergency access grants, for review: read-only, with the accesses made under each.

    Viewed by superusers and the Auditor role (its view permission in novamind.roles).
    """

    access_category = policy.GRANT_CATEGORY
    list_display = ("granted_at", "user", "patient_column", "expires_at", "state", "entry_count", "given_reason")
    list_filter = (GrantStatusFilter, ("granted_at", admin.DateFieldListFilter))
    list_select_related = ("user",)  # the patient column reads its page's patients at once
    search_fields = ("=patient__mrn", "=user__username")
    search_help_text = "A patient's MRN or a username, exactly."
    ordering = ("-granted_at",)
    fields = ("patient_mrn", "user", "given_reason", "granted_at", "expires_at", "entry_count")
    readonly_fields = fields
    list_per_page = 100

    def get_queryset(self, request):
        from novamind.models import AccessLogEntry

        entries = (
            AccessLogEntry.objects.filter(
                user_id=OuterRef("user_id"),
                patient_id=OuterRef("patient_id"),
                emergency=True,
                occurred_at__gte=OuterRef("granted_at"),
                occurred_at__lte=OuterRef("expires_at"),
            )
            .order_by()
            .values("user_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return super().get_queryset(request).annotate(entries=Coalesce(Subquery(entries), Value(0)))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="patient", ordering="patient__mrn")
    def patient_mrn(self, obj):
        return obj.patient.mrn

    @admin.display(description="status")
    def state(self, obj):
        return "active" if obj.is_active() else "expired"

    @admin.display(description="accesses under it", ordering="entries")
    def entry_count(self, obj):
        return obj.entries

    @admin.display(description="reason")
    def given_reason(self, obj):
        return obj.reason


class CareAssignmentForm(forms.ModelForm):
    """Assign a clinician to a patient: only clinicians can be chosen."""

    class Meta:
        model = models.CareAssignment
        fields = ("patient", "clinician")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "clinician" in self.fields:
            self.fields["clinician"].queryset = (
                get_user_model()
                .objects.filter(is_active=True, groups__name__in=policy.CARE_ROLES)
                .distinct()
                .order_by("last_name", "first_name", "username")
            )
            self.fields["clinician"].label_from_instance = staff_label


def staff_label(user) -> str:
    """Return how staff are named in pickers and lists: full name and username."""
    return f"{user.get_full_name() or user.get_username()} ({user.get_username()})"


class CareStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "On the care team"), ("ended", "Ended")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(ended_at__isnull=True)
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        return queryset


@admin.register(models.CareAssignment)
class CareAssignmentAdmin(display.PatientColumnMixin, PatientPickerMixin, AuditedAdmin):
    """Care teams: the front desk assigns clinicians to patients and ends assignments.

    How care begins is the access policy's rule (patients.policy): this page and bookings by the
    front desk are the only doors, both through `services.care_assign`. Assignments are never
    edited or deleted; "End care" closes one and the history keeps it.
    """

    access_category = services.CARE_CATEGORY
    form = CareAssignmentForm
    list_display = ("patient_column", "clinician_name", "started_at", "ended_at", "created_by")
    list_filter = (CareStatusFilter,)
    list_select_related = ("clinician", "created_by")  # the patient column reads its page's patients at once
    search_fields = ("=patient__mrn", "=clinician__username")
    search_help_text = "A patient's MRN or a clinician's username, exactly."
    autocomplete_fields = ("patient",)
    ordering = ("-started_at",)
    actions = ("end_care",)
    list_per_page = 100

    def get_queryset(self, request):
        return policy.restrict(super().get_queryset(request), request.user)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("patient", "clinician")
        return ("patient_mrn", "clinician_name", "started_at", "ended_at", "created_by", "updated_by")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.get_fields(request, obj)

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.get_fields(request, obj)})]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and policy.may_assign_care(request.user)

    def has_change_permission(self, request, obj=None):
        return False  # an assignment is ended (the action), never edited

    def save_model(self, request, obj, form, change):
        assignment = services.care_assign(
            patient_id=obj.patient_id, clinician=obj.clinician, actor=request.user, request=request
        )
        obj.pk, obj.version = assignment.pk, assignment.version
        obj._state.adding = False

    def save_form(self, request, form, change):
        return form.save(commit=False)

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"{staff_label(obj.clinician)} is on the care team of {obj.patient.mrn}.")
        return HttpResponseRedirect(reverse("admin:patients_patient_change", args=[obj.patient_id]))

    @admin.action(description="End care for the selected assignments", permissions=["end"])
    def end_care(self, request, queryset):
        ended = 0
        for assignment in queryset.filter(ended_at__isnull=True):
            services.care_end(assignment_id=assignment.pk, actor=request.user, request=request)
            ended += 1
        self.message_user(request, f"{ended} care assignment(s) ended.")

    def has_end_permission(self, request):
        return policy.may_assign_care(request.user) and request.user.has_perm("patients.change_careassignment")

    @admin.display(description="patient", ordering="patient__mrn")
    def patient_mrn(self, obj):
        return obj.patient.mrn

    @admin.display(description="clinician", ordering="clinician__last_name")
    def clinician_name(self, obj):
        return staff_label(obj.clinician)


@register_patient_inline
class CareTeamInline(ReadOnlyListingInline):
    """The patient's care team: the clinicians who may see the record (patients.policy)."""

    model = models.CareAssignment
    fk_name = "patient"
    verbose_name = "clinician on the care team"
    verbose_name_plural = "care team"
    fields = readonly_fields = ("clinician_name", "started_at", "created_by")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(ended_at__isnull=True).select_related("clinician", "created_by")

    @admin.display(description="clinician")
    def clinician_name(self, obj):
        return staff_label(obj.clinician)


def _spoken(error) -> str:
    """Return a refusal's messages without the field names a RuleViolation's text carries."""
    if isinstance(error, RuleViolation):
        return " ".join(message for messages_ in error.errors.values() for message in messages_)
    return str(error)
