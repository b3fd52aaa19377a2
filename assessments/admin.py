"""The measures pages of the admin: record a questionnaire item by item, correct or void it; review risk answers.

The entry form shows each item of the chosen questionnaire with its answers as radio buttons;
the total and band are computed when it is saved (`assessments.services`), shown read-only, never
typed. A saved response is corrected on its own page (a reason is asked for) or voided with a
reason, never deleted. A risk answer's alert is read-only; "Review" records what was done, and
only a clinician of the patient's care team may do it (the service asks the policy).

Every page reads through the changelist's queryset, which the access policy restricts (the
patient's care), so a response or alert outside the user's care is a 404 on every page. The
front desk may open the entry form and nothing else: without the view permission, no list,
record or history page, and no score, is ever shown to them.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from assessments import domain, instruments, models, services
from novamind import access
from novamind.admin import (
    AuditedAdmin,
    CappedCountPaginator,
    EncryptionAwareChangeList,
    VersionedModelForm,
    next_url,
    show_violation,
)
from novamind.domain import AccessDenied, ConcurrencyError, RuleViolation, parse_id
from patients import display, policy
from patients.admin import PatientPickerMixin

CATEGORY = services.CATEGORY
MAIN_FIELDS = ("patient", "instrument", "administered_on", "appointment")
# The form's field for the reason of a correction (the model keeps the last one as `correction_reason`).
CORRECTION = "reason_for_correction"


def _item_field(instrument, item) -> forms.TypedChoiceField:
    """Return the form field of one item: its answers as radio buttons, scored by their points."""
    return forms.TypedChoiceField(
        label=f"{item.number}. {item.text}",
        choices=[(str(option.points), option.label) for option in instrument.options_of(item)],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "measure-answers"}),
        help_text="" if item.scored else "Asked, not scored.",
    )


def item_fields(instrument) -> dict[str, forms.Field]:
    """Return {"item_<n>": field} of every item of `instrument`, in order."""
    if instrument is None:
        return {}
    return {domain.item_field(item.number): _item_field(instrument, item) for item in instrument.items}


class ResponseForm(VersionedModelForm):
    """A questionnaire response: the patient, the questionnaire and its date, then each item's answer.

    The item fields are the questionnaire's (added by ResponseAdmin.get_form); the answers go onto
    the record before the model's rules score them (`domain.Response.scored`), so a rule's error
    about an item shows next to that item. A change is a correction: it needs a reason.
    """

    instrument_code = ""

    class Meta:
        model = models.Response
        fields = (*MAIN_FIELDS, "version")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance
        if not stored._state.adding:
            for number, points in models.answers_of(stored.answers, stored.scoring_basis).items.items():
                if domain.item_field(number) in self.fields:
                    self.initial.setdefault(domain.item_field(number), points)
        field = self.fields.get("appointment")
        if field is not None:
            patient_id = stored.patient_id or parse_id(self.data.get("patient") if self.is_bound else None)
            patient_id = patient_id or parse_id(self.initial.get("patient"))
            field.queryset = (
                field.queryset.filter(patient_id=patient_id).order_by("-start") if patient_id else field.queryset.none()
            )
            field.label_from_instance = _appointment_label
            if hasattr(field.widget, "can_add_related"):  # the admin's related-object wrapper: choose only
                field.widget.can_add_related = field.widget.can_change_related = False
                field.widget.can_view_related = field.widget.can_delete_related = False

    def answers(self) -> domain.Answers:
        """Return the answers the form holds (item by item; None where an item was left unanswered)."""
        instrument = instruments.get(self.instrument_code)
        items = {}
        for item in instrument.items if instrument else ():
            value = self.cleaned_data.get(domain.item_field(item.number))
            items[item.number] = value if isinstance(value, int) else None
        return domain.Answers(items=items, basis=self.instance.scoring_basis or "")

    def _post_clean(self):
        # The answers go onto the record first: the model's own rules (domain.Response.scored) score them.
        if self.instrument_code:
            self.instance.answers = json.dumps(self.answers().to_data())
        super()._post_clean()
        stored = self.instance
        if stored._state.adding or self.errors or not self.has_changed():
            return
        original = models.Response.objects.select_related("administered_by").get(pk=stored.pk).to_domain()
        try:
            domain.correct(
                original,
                answers=self.answers(),
                administered_on=self.cleaned_data.get("administered_on"),
                appointment_id=stored.appointment_id,
                reason=self.cleaned_data.get(CORRECTION, ""),
                today=timezone.localdate(),
            )
        except RuleViolation as violation:
            show_violation(self, violation, aliases={"correction_reason": CORRECTION})


def _appointment_label(appointment) -> str:
    start = timezone.localtime(appointment.start)
    return (
        f"{start:%Y-%m-%d %H:%M} ({appointment.get_kind_display().lower()}, {appointment.get_status_display().lower()})"
    )


class ResponseChangeList(EncryptionAwareChangeList):
    """The response list, reading of each row only what its columns show: never the answers."""

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer("answers", "void_reason", "correction_reason")


@admin.register(models.Response)
class ResponseAdmin(display.PatientColumnMixin, PatientPickerMixin, AuditedAdmin):
    form = ResponseForm
    access_category = CATEGORY
    change_form_template = "admin/assessments/response/change_form.html"
    list_display = ("response", "patient_column", "questionnaire", "administered_on", "score", "risk", "status")
    list_filter = ("status", ("administered_on", admin.DateFieldListFilter))
    list_select_related = ("administered_by", "safety_alert")  # patients: PatientColumnMixin
    search_fields = ("=patient__mrn",)
    search_help_text = "A patient's MRN, exactly."
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-administered_on", "-created_at")
    autocomplete_fields = ("patient",)

    def get_changelist(self, request, **kwargs):
        return ResponseChangeList

    def get_queryset(self, request):
        return policy.restrict(super().get_queryset(request), request.user)

    # --- which questionnaire the form asks ------------------------------------------------------

    @staticmethod
    def instrument_of(request, obj=None):
        """Return the questionnaire the form shows: the response's, else the one posted or asked for (?instrument=)."""
        if obj is not None:
            return instruments.get(obj.instrument)
        asked = request.POST.get("instrument") if request.method == "POST" else request.GET.get("instrument")
        return instruments.get(asked or "")

    def get_form(self, request, obj=None, change=False, **kwargs):
        instrument = self.instrument_of(request, obj)
        declared = dict(item_fields(instrument))
        if obj is not None:
            declared[CORRECTION] = forms.CharField(
                label="Reason for the correction",
                required=False,
                max_length=domain.REASON_MAX,
                widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                help_text="Required when anything is changed: why the answers, date or appointment were wrong. "
                "Kept encrypted in the history.",
            )
        form = type(
            "ResponseForm",
            (self.form,),
            {**declared, "instrument_code": instrument.code if instrument else ""},
        )
        return super().get_form(request, obj, change=change, form=form, **kwargs)

    def get_fieldsets(self, request, obj=None):
        instrument = self.instrument_of(request, obj)
        if obj is None:
            main = (
                None,
                {
                    "fields": (*MAIN_FIELDS, "version"),
                    "description": ""
                    if instrument
                    else "Choose the questionnaire above (or here, then Save): its items are then shown.",
                },
            )
        else:
            main = (None, {"fields": (*MAIN_FIELDS, "score", "risk_alert", "status")})
        fieldsets = [main]
        if instrument is not None:
            fieldsets.append(
                (
                    f"{instrument.name}: {instrument.stem}",
                    {"fields": tuple(item_fields(instrument)), "classes": ("measure-items",)},
                )
            )
        if obj is not None:
            fieldsets += [
                ("Correction", {"fields": (CORRECTION,)}),
                ("Voided", {"fields": ("voided_at", "void_reason")}),
                (
                    "Record",
                    {"classes": ("collapse",), "fields": ("administered_by", "created_at", "updated_by", "updated_at")},
                ),
            ]
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)  # the audit fields
        if obj is None:
            return readonly
        return (
            *readonly,
            *("patient", "instrument", "score", "risk_alert", "status", "administered_by", "voided_at", "void_reason"),
        )

    def get_changeform_initial_data(self, request):
        initial = {"administered_on": timezone.localdate(), **super().get_changeform_initial_data(request)}
        if initial.get("instrument") not in instruments.INSTRUMENTS:
            initial.pop("instrument", None)
        return initial

    def has_change_permission(self, request, obj=None):
        # A voided response is kept as it was: read-only.
        if obj is not None and obj.status == domain.ResponseStatus.VOIDED.value:
            return False
        return super().has_change_permission(request, obj)

    # --- saving through the services --------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.response_correct(
                response_id=obj.pk,
                answers=form.answers(),
                administered_on=obj.administered_on,
                appointment_id=obj.appointment_id,
                reason=form.cleaned_data.get(CORRECTION, ""),
                version=form.cleaned_data.get("version"),
                actor=request.user,
            )
        else:
            saved = services.response_record(response=obj.to_domain(with_audit=False), actor=request.user)
        obj.pk, obj.version = saved.id, saved.audit.version
        obj._state.adding = False

    def construct_change_message(self, request, form, formsets, add=False):
        # The admin log stores the names of the changed fields in plaintext: an item's label is its
        # question, and "item 9 changed" would say too much. The answers are one field there.
        if add:
            return [{"added": {}}]
        changed = sorted({"answers" if name.startswith("item_") else name for name in form.changed_data} - {CORRECTION})
        return [{"changed": {"fields": changed}}] if changed else []

    # --- pages -------------------------------------------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_uuid(object_id)
        context = dict(extra_context or {})
        if object_id is None:
            context["instrument_links"] = self._instrument_links(request)
        else:
            row = self._visible(request, object_id)
            if row is not None:
                context["void_url"] = (
                    reverse("admin:assessments_response_void", args=[row.pk])
                    if self.has_change_permission(request, row)
                    else None
                )
        return super().changeform_view(request, object_id, form_url, context)

    def _instrument_links(self, request) -> list[tuple[str, str, bool]]:
        """Return (name, address, chosen) of each questionnaire the add form can ask, keeping the patient and next."""
        asked = request.GET.get("instrument", "")
        kept = {name: request.GET[name] for name in ("patient", "next", "appointment") if request.GET.get(name)}
        add = reverse("admin:assessments_response_add")
        return [
            (instrument.name, f"{add}?{urlencode({**kept, 'instrument': code})}", code == asked)
            for code, instrument in instruments.INSTRUMENTS.items()
        ]

    def _visible(self, request, object_id):
        return self.get_queryset(request).filter(pk=parse_id(object_id)).first()

    def get_urls(self):
        return [
            path(
                "<path:object_id>/void/", self.admin_site.admin_view(self.void_view), name="assessments_response_void"
            ),
            *super().get_urls(),
        ]

    def void_view(self, request, object_id):
        """Ask why the response is void (entered in error), then void it through the service."""
        self._require_uuid(object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        row = self._visible(request, object_id)
        if row is None:
            raise Http404("No such questionnaire response.")
        change_url = reverse("admin:assessments_response_change", args=[row.pk])
        form = VoidForm(request.POST or None, initial={"version": row.version})
        if request.method == "POST" and form.is_valid():
            try:
                services.response_void(
                    response_id=row.pk,
                    reason=form.cleaned_data["void_reason"],
                    version=form.cleaned_data["version"],
                    actor=request.user,
                )
            except AccessDenied as refusal:
                raise PermissionDenied(str(refusal)) from None
            except RuleViolation as violation:
                show_violation(form, violation)
            except ConcurrencyError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"Response {str(row.pk)[:8]} was voided.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        elif request.method == "GET":
            access.record(
                user=request.user,
                action="view (void form)",
                category=CATEGORY,
                patient=row.patient,
                obj=row,
                request=request,
            )
        return render(
            request,
            "admin/assessments/workflow_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Void questionnaire response",
                "form": form,
                "form_id": "void_form",
                "change_url": change_url,
                "crumb": str(row),
                "submit_label": "Void",
                "explanation": "The response stays in the record, marked void, and no longer counts in the charts "
                "or the measures due. Its safety alert, if any, still waits for its review.",
            },
        )

    # --- columns and read-only fields -------------------------------------------------------------

    @admin.display(description="response")
    def response(self, obj):
        return str(obj)

    @admin.display(description="questionnaire")
    def questionnaire(self, obj):
        instrument = instruments.get(obj.instrument)
        return instrument.name if instrument else obj.instrument

    @admin.display(description="total and band")
    def score(self, obj):
        instrument = instruments.get(obj.instrument)
        band = instrument.band(obj.band, obj.scoring_basis) if instrument else None
        return f"{obj.total} — {band.label if band else obj.band}"

    @admin.display(description="risk answer")
    def risk(self, obj):
        alert = _alert_of(obj)
        return alert.get_status_display() if alert else "—"

    @admin.display(description="risk answer alert")
    def risk_alert(self, obj):
        alert = _alert_of(obj)
        if alert is None:
            return "None: no answer calls for one."
        return format_html(
            '<a href="{}">{}</a>: {}',
            reverse("admin:assessments_safetyalert_change", args=[alert.pk]),
            str(alert),
            alert.get_status_display().lower(),
        )


def _alert_of(response) -> models.SafetyAlert | None:
    """Return the response's safety alert, or None (a reverse one-to-one raises when there is none)."""
    try:
        return response.safety_alert
    except models.SafetyAlert.DoesNotExist:
        return None


class VoidForm(forms.Form):
    """Why a response is void."""

    void_reason = forms.CharField(
        label="Reason",
        max_length=domain.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="For example: entered for the wrong patient, or twice. Stored encrypted.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class ReviewForm(forms.Form):
    """What was done about a risk answer."""

    action_taken = forms.CharField(
        label="What was done",
        max_length=domain.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text="Who was contacted, what was found, the plan (safety plan, crisis referral, next contact). "
        "Stored encrypted; it closes the alert.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


@admin.register(models.SafetyAlert)
class SafetyAlertAdmin(display.PatientColumnMixin, AuditedAdmin):
    """Risk answers: read-only records, each reviewed once by a clinician of the patient's care team."""

    access_category = CATEGORY
    change_form_template = "admin/assessments/safetyalert/change_form.html"
    list_display = ("alert", "patient_column", "raised_at", "status", "reviewed_by", "reviewed_at")
    list_filter = ("status", ("raised_at", admin.DateFieldListFilter))
    list_select_related = ("reviewed_by",)
    search_fields = ("=patient__mrn",)
    search_help_text = "A patient's MRN, exactly."
    ordering = ("-raised_at",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = (
        "patient",
        "questionnaire_response",
        "raised_at",
        "reason",
        "status",
        "reviewed_by",
        "reviewed_at",
        "action_taken",
        "cleared_by",
        "cleared_at",
        "clear_reason",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return policy.restrict(super().get_queryset(request), request.user)

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.fields})]

    def has_add_permission(self, request):
        return False  # raised by a response's risk answer, never by hand

    def has_change_permission(self, request, obj=None):
        # Its page is read-only: the review is the Review page. The model permission (obj None)
        # governs that page.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        raise PermissionDenied("A safety alert changes only by its review or a correction of its response.")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        context = dict(extra_context or {})
        if object_id is not None:
            self._require_uuid(object_id)
            row = self.get_queryset(request).filter(pk=object_id).first()
            if row is not None and row.status == domain.AlertStatus.OPEN.value:
                context["review_url"] = reverse("admin:assessments_safetyalert_review", args=[row.pk])
        return super().changeform_view(request, object_id, form_url, context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name="assessments_safetyalert_review",
            ),
            *super().get_urls(),
        ]

    def review_view(self, request, object_id):
        """Show the risk answer and ask what was done; record the review through the service."""
        self._require_uuid(object_id)
        if not super().has_change_permission(request):
            raise PermissionDenied
        row = self.get_queryset(request).select_related("patient", "response").filter(pk=object_id).first()
        if row is None:
            raise Http404("No such safety alert.")
        change_url = reverse("admin:assessments_safetyalert_change", args=[row.pk])
        form = ReviewForm(request.POST or None, initial={"version": row.version})
        if request.method == "POST" and form.is_valid():
            try:
                services.alert_review(
                    alert_id=row.pk,
                    action_taken=form.cleaned_data["action_taken"],
                    version=form.cleaned_data["version"],
                    actor=request.user,
                )
            except (AccessDenied, RuleViolation) as refusal:
                if isinstance(refusal, RuleViolation):
                    show_violation(form, refusal)
                else:
                    form.add_error(None, str(refusal))
            except ConcurrencyError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"The {row} was reviewed.", messages.SUCCESS)
                return HttpResponseRedirect(next_url(request) or change_url)
        elif request.method == "GET":
            access.record(
                user=request.user,
                action="view (review form)",
                category=CATEGORY,
                patient=row.patient,
                obj=row,
                request=request,
            )
        alert = row.to_domain()
        return render(
            request,
            "admin/assessments/workflow_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Review a risk answer",
                "form": form,
                "form_id": "review_form",
                "change_url": change_url,
                "crumb": str(row),
                "submit_label": "Record the review",
                "alert": alert,
                "patient_label": display.labels_for(request.user, [row.patient_id]).get(row.patient_id),
                "response_url": reverse("admin:assessments_response_change", args=[row.response_id]),
                "explanation": "A clinician of the patient's care team records what was done; the alert then "
                "leaves the patient's banner and the dashboard.",
            },
        )

    # --- columns and read-only fields -------------------------------------------------------------

    @admin.display(description="alert")
    def alert(self, obj):
        return str(obj)

    @admin.display(description="questionnaire response")
    def questionnaire_response(self, obj):
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:assessments_response_change", args=[obj.response_id]),
            str(obj.response),
        )
