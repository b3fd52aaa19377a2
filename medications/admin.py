"""The medication pages of the admin: prescribe, then revise or discontinue; allergies on the patient.

An order is read-only once written. Its page offers Revise, Discontinue, Hold, Resume and
Complete, each calling a service (medications.services), which asks the access policy (role and
care) and the domain whether it may be done; a refusal is shown as an error and nothing is
written. The pages read orders through the changelist's queryset, which the policy restricts,
so an order outside the user's care is a 404 on every page, as on its change page.
"""

from __future__ import annotations

import dataclasses
import types

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.forms.formsets import TOTAL_FORM_COUNT
from django.forms.models import BaseInlineFormSet, fields_for_model
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from medications import domain, models, repository, services
from novamind import access
from novamind.admin import (
    AuditedAdmin,
    CappedCountPaginator,
    EncryptionAwareChangeList,
    ReadOnlyListingInline,
    VersionedModelForm,
    show_violation,
)
from novamind.domain import AccessDenied, ConcurrencyError, DomainError, RuleViolation, parse_count, parse_id
from patients import admin as patients_admin
from patients import display, policy
from patients import models as patients_models
from patients import repository as patients_repository


def _order_label(order: domain.MedicationOrder) -> str:
    return f"{order.medication} — {order.sig}"


# --- Prescribing ----------------------------------------------------------------------------


class ConfirmCheckbox(forms.CheckboxInput):
    """An unticked checkbox that posts what it confirms (the new dose).

    A dose changed again after the box was ticked is not what was confirmed, so it is asked
    about again.
    """

    def __init__(self, confirms: str):
        super().__init__(check_test=lambda value: False)
        self.confirms = confirms

    def format_value(self, value):
        return self.confirms

    def value_from_datadict(self, data, files, name):
        return data.get(name, "")


def dose_confirmation_field() -> forms.CharField:
    """Return the field that confirms a large dose change: hidden until its warning shows it."""
    return forms.CharField(
        label="The new dose is right",
        required=False,
        widget=forms.HiddenInput,
        help_text="Tick to prescribe this dose as it is.",
    )


class OrderAlertsMixin:
    """A prescribing form whose warnings (allergy, duplicate, large dose change) go to its top.

    Each warning is an error of the field that answers it: an override reason, or the
    confirmation of the dose, a checkbox that appears only with its warning.
    """

    ALERTS_TITLE = "Check before prescribing"
    ALERTS_HELP = "The order conflicts with the patient's record. Nothing is saved until each warning is answered."
    ALERT_FIELDS = ("allergy_override_reason", "duplicate_override_reason", "confirm_dose_change")
    # The record check's names for the fields this form shows under other names.
    ALERT_ALIASES = {domain.DOSE_CONFIRMATION: "confirm_dose_change"}

    def dose_confirmed(self, order: domain.MedicationOrder) -> bool:
        """Return whether the prescriber confirmed `order`'s dose, this very dose."""
        return bool(order.dose) and self.cleaned_data.get("confirm_dose_change") == order.dose

    def show_alerts(self, violation: RuleViolation, order: domain.MedicationOrder, **aliases) -> None:
        """Show the record check's refusal on the form; offer the dose confirmation if it asks for one."""
        show_violation(self, violation, aliases={**self.ALERT_ALIASES, **aliases})
        if self.has_error("confirm_dose_change"):
            self.fields["confirm_dose_change"].widget = ConfirmCheckbox(confirms=order.dose)

    def alert_fields(self) -> list[str]:
        """Return the names of the fields that carry a warning, in the order they are shown."""
        return [name for name in self.ALERT_FIELDS if name in self.fields and self.has_error(name)]


PRESCRIPTION_DETAILS = ("strength", "dose_form", "dose_amount", "dose_unit", "route", "frequency_kind", "quantity")


class PrescribeForm(OrderAlertsMixin, VersionedModelForm):
    """A new order. Its prescriber is the signed-in user; the record checks run before saving."""

    dose_amount = forms.DecimalField(label="Dose", help_text="How much is taken each time, e.g. 50 or 0.5.")
    confirm_dose_change = dose_confirmation_field()
    actor = None
    dose_change_confirmed = False  # what the record check kept, for the save

    class Meta:
        model = models.MedicationOrder
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and self.actor is not None:
            self.instance.prescriber = self.actor
        # Blank in the table only for orders recorded from another system's record; a
        # prescription written here has every one of them.
        for name in PRESCRIPTION_DETAILS:
            if name in self.fields:
                self.fields[name].required = True

    def _post_clean(self):
        # The model's own rules have run on the instance; now the rule that spans the patient's
        # record (allergies, duplicates), the same function the repository calls. It locks the
        # patient row for the rest of the request's transaction, so the save sees this record.
        super()._post_clean()
        order = self.instance
        if not order._state.adding or not order.patient_id or not order.drug_name:
            return
        prescribed = order.to_domain(with_audit=False)
        prescribed = dataclasses.replace(prescribed, dose_change_confirmed=self.dose_confirmed(prescribed))
        try:
            checked = repository.check_prescribing(prescribed)
        except RuleViolation as violation:
            self.show_alerts(violation, prescribed)
            return
        order.allergy_override_reason = checked.allergy_override_reason
        order.duplicate_override_reason = checked.duplicate_override_reason
        self.dose_change_confirmed = checked.dose_change_confirmed


class PatientSearchMixin(patients_admin.PatientPickerMixin):
    """Search a patient's records the way the patient list searches: exact, through blind indexes.

    Its add form offers only the patients the user may see (patients.admin.PatientPickerMixin).
    """

    search_fields = ("patient__mrn",)
    search_help_text = "The patient: MRN, full name, last name, date of birth, phone or e-mail (exact)."

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        criteria = patients_admin.parse_search_term(search_term)
        if "mrn" in criteria:
            return queryset.filter(patient__mrn=criteria["mrn"]), False
        matching = patients_models.Patient.objects.filter(patients_repository.search_query(**criteria))
        return queryset.filter(patient__in=matching), False


class OrderChangeList(EncryptionAwareChangeList):
    """The order list, with what each row's columns read fetched for the whole page at once.

    The medication and directions columns map each row to its domain order, which reads the
    prescriber's staff profile and the order that revised it: without these, two queries a row.
    """

    def get_queryset(self, request, exclude_parameters=None):
        # Only the revising order's id is read (order.replaced_by_id): none of its encrypted columns.
        revisions = Prefetch("replaced_by", queryset=models.MedicationOrder.objects.only("id", "replaces"))
        return super().get_queryset(request, exclude_parameters).prefetch_related(revisions)


ORDER_DETAIL_FIELDS = (
    "drug_name",
    "rxnorm_code",
    ("strength", "dose_form"),
    ("dose_amount", "dose_unit", "route"),
    ("frequency_kind", "frequency_interval"),
    ("as_needed", "prn_indication"),
    ("start_date", "end_date"),
    ("quantity", "refills"),
    "schedule",
    "instructions",
)


@admin.register(models.MedicationOrder)
class MedicationOrderAdmin(display.PatientColumnMixin, PatientSearchMixin, AuditedAdmin):
    form = PrescribeForm
    access_category = "medications"
    change_form_template = "admin/medications/medicationorder/change_form.html"
    list_display = (
        "order",
        "patient_column",
        "medication",
        "directions",
        "start_date",
        "end_date",
        "status",
        "prescriber",
    )
    list_filter = (
        "status",
        ("start_date", admin.DateFieldListFilter),
        ("prescriber", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("prescriber__staff_profile",)  # patients: PatientColumnMixin
    show_full_result_count = False  # a second count, of every order, on each page
    paginator = CappedCountPaginator  # the first one stops at 1,000 orders
    ordering = ("-start_date", "-created_at")
    autocomplete_fields = ("patient",)
    actions = ("hold_orders", "resume_orders", "complete_orders")

    def get_changelist(self, request, **kwargs):
        return OrderChangeList

    def get_queryset(self, request):
        # A clinician sees the orders of the patients in their care (patients.policy).
        return policy.restrict(super().get_queryset(request), request.user)

    add_fieldsets = (
        ("Patient", {"fields": ("patient",)}),
        ("Order", {"fields": ORDER_DETAIL_FIELDS}),
        (
            "Overrides",
            {
                "description": "Needed only when the drug matches a recorded allergy, or duplicates a current order.",
                "fields": ("allergy_override_reason", "duplicate_override_reason", "confirm_dose_change"),
            },
        ),
    )
    fieldsets = (
        ("Order", {"fields": ("patient", "summary", "status", "prescribed_by", "timeline")}),
        ("Details", {"fields": ORDER_DETAIL_FIELDS}),
        ("Overrides", {"fields": ("allergy_override_reason", "duplicate_override_reason")}),
        ("Stopped", {"fields": ("discontinued_on", "discontinue_reason", "discontinue_note")}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )
    readonly_fields = (
        "summary",
        "status",
        "prescribed_by",
        "timeline",
        "discontinued_on",
        "discontinue_reason",
        "discontinue_note",
    )

    # --- pages ----------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            (title, options), *rest = self.add_fieldsets
            return [(title, {**options, "fields": (*options["fields"], "version")}), *rest]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_changeform_initial_data(self, request):
        return {"start_date": timezone.localdate(), **super().get_changeform_initial_data(request)}

    def has_change_permission(self, request, obj=None):
        # A written order is never edited: its page is read-only and changes go through the
        # Revise / Discontinue / Hold / Resume / Complete actions. The model-level permission
        # (obj None) still governs those actions.
        if obj is not None:
            return False
        return super().has_change_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("An order is not reverted in place: revise it instead.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        adminform = context.get("adminform")
        alerts = adminform.form.alert_fields() if add and adminform is not None else []
        if alerts:
            # The warnings, and what answers them, go first: above the patient and the drug.
            fieldsets = [
                (title, {**options, "fields": [line for line in options["fields"] if line not in alerts]})
                for title, options in adminform.fieldsets
            ]
            form = adminform.form
            top = (form.ALERTS_TITLE, {"fields": alerts, "classes": ("alerts",), "description": form.ALERTS_HELP})
            context["adminform"] = helpers.AdminForm(
                form,
                [top, *fieldsets],
                {},
                adminform.readonly_fields,
                model_admin=self,
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        order = dataclasses.replace(obj.to_domain(with_audit=False), dose_change_confirmed=form.dose_change_confirmed)
        created = services.order_prescribe(order=order, actor=request.user)
        obj.pk = created.id
        obj._state.adding = False
        obj.refresh_from_db()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_uuid(object_id)
            extra_context = {**(extra_context or {}), **self._order_context(request, object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- columns and read-only fields ----------------------------------------------------

    @admin.display(description="order")
    def order(self, obj):
        return str(obj)

    @admin.display(description="medication")
    def medication(self, obj):
        return obj.to_domain(with_audit=False).medication

    @admin.display(description="directions")
    def directions(self, obj):
        return obj.to_domain(with_audit=False).sig

    @admin.display(description="summary")
    def summary(self, obj):
        return _order_label(obj.to_domain(with_audit=False))

    @admin.display(description="prescriber")
    def prescribed_by(self, obj):
        return _prescribed_by(obj)

    @admin.display(description="timeline")
    def timeline(self, obj):
        parts = []
        if obj.replaces_id:
            parts.append(
                format_html(
                    'revises <a href="{}">{}</a>',
                    self._url("change", obj.replaces_id),
                    f"order {str(obj.replaces_id)[:8]}",
                )
            )
        order = obj.to_domain(with_audit=False)
        if order.replaced_by_id:
            parts.append(
                format_html(
                    'revised by <a href="{}">{}</a>',
                    self._url("change", order.replaced_by_id),
                    f"order {str(order.replaced_by_id)[:8]}",
                )
            )
        parts.append(
            format_html(
                '<a href="{}?patient__id__exact={}">all orders of this patient</a>',
                self._url("changelist"),
                obj.patient_id,
            )
        )
        return format_html_join("; ", "{}", ((part,) for part in parts))

    # --- workflow -------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/revise/", view(self.revise_view), name="medications_medicationorder_revise"),
            path(
                "<path:object_id>/discontinue/",
                view(self.discontinue_view),
                name="medications_medicationorder_discontinue",
            ),
            path(
                "<path:object_id>/transition/",
                view(self.transition_view),
                name="medications_medicationorder_transition",
            ),
            *super().get_urls(),
        ]

    def _url(self, name, *args):
        return reverse(f"admin:medications_medicationorder_{name}", args=args)

    def _order_context(self, request, object_id) -> dict:
        order = self._visible_order(request, object_id)
        if order is None:
            return {}
        prescriber = models.prescriber_of(request.user)
        allowed = self.has_change_permission(request) and prescriber.is_prescriber
        return {
            "order": order,
            "may_change_orders": allowed,
            "revise_url": self._url("revise", order.id),
            "discontinue_url": self._url("discontinue", order.id),
            "transition_url": self._url("transition", order.id),
        }

    def _workflow_order(self, request, object_id) -> domain.MedicationOrder:
        self._require_uuid(object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        order = self._visible_order(request, object_id)
        if order is None:
            raise Http404("No such medication order.")
        return order

    def _visible_order(self, request, object_id) -> domain.MedicationOrder | None:
        """Return the order if `request.user` may see it (the policy restricts get_queryset), else None."""
        row = (
            self.get_queryset(request)
            .select_related(*repository.ORDER_RELATIONS)
            .filter(pk=parse_id(object_id))
            .first()
        )
        return row.to_domain() if row else None

    def _render_workflow(self, request, order, form, *, title, submit_label, explanation, form_id):
        # These pages show the order, so reading them is recorded like any other view of PHI.
        row = models.MedicationOrder.objects.select_related("patient").get(pk=order.id)
        access.record(
            user=request.user,
            action=f"view ({submit_label.lower()} form)",
            category="medications",
            patient=row.patient,
            obj=row,
            request=request,
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "order": order,
            "form": form,
            "change_url": self._url("change", order.id),
            "summary": _order_label(order),
            "submit_label": submit_label,
            "explanation": explanation,
            "form_id": form_id,
        }
        return render(request, "admin/medications/medicationorder/workflow_form.html", context)

    def revise_view(self, request, object_id):
        order = self._workflow_order(request, object_id)
        if request.method == "POST":
            form = ReviseForm(request.POST)
            if form.is_valid():
                revised = form.revised(order)
                try:
                    new = services.order_revise(
                        order=revised, effective=form.cleaned_data["start_date"], actor=request.user
                    )
                except AccessDenied as refusal:
                    raise PermissionDenied(str(refusal)) from None
                except RuleViolation as violation:
                    form.show_alerts(violation, revised, discontinued_on="start_date")
                except ConcurrencyError as error:
                    form.add_error(None, str(error))
                else:
                    self.message_user(
                        request,
                        f"Order {order.short_id} was discontinued as changed; the revised order is {new.short_id}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._url("change", new.id))
        else:
            form = ReviseForm(initial=ReviseForm.initial_for(order, today=timezone.localdate()))
        return self._render_workflow(
            request,
            order,
            form,
            title="Revise medication order",
            submit_label="Revise",
            form_id="revise_form",
            explanation="The current order is discontinued as changed and a new order with these details "
            "starts the same day, linked to it, so the history shows both.",
        )

    def discontinue_view(self, request, object_id):
        order = self._workflow_order(request, object_id)
        if request.method == "POST":
            form = DiscontinueForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    services.order_discontinue(
                        order_id=order.id,
                        reason=domain.DiscontinueReason(data["discontinue_reason"]),
                        on=data["discontinued_on"],
                        note=data["discontinue_note"],
                        version=data["version"],
                        actor=request.user,
                    )
                except AccessDenied as refusal:
                    raise PermissionDenied(str(refusal)) from None
                except RuleViolation as violation:
                    show_violation(form, violation)
                except ConcurrencyError as error:
                    form.add_error(None, str(error))
                else:
                    self.message_user(request, f"Order {order.short_id} was discontinued.", messages.SUCCESS)
                    return HttpResponseRedirect(self._url("change", order.id))
        else:
            form = DiscontinueForm(initial={"discontinued_on": timezone.localdate(), "version": order.audit.version})
        return self._render_workflow(
            request,
            order,
            form,
            title="Discontinue medication order",
            submit_label="Discontinue",
            form_id="discontinue_form",
            explanation="The order stops; it stays in the patient's medication history.",
        )

    TRANSITIONS = {
        "hold": (services.order_hold, "put on hold"),
        "resume": (services.order_resume, "resumed"),
        "complete": (services.order_complete, "completed"),
    }

    def transition_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        order = self._workflow_order(request, object_id)
        action = request.POST.get("action", "")
        if action not in self.TRANSITIONS:
            raise Http404("No such action.")
        service, done = self.TRANSITIONS[action]
        version = request.POST.get("version", "")
        try:
            service(order_id=order.id, version=parse_count(version), actor=request.user)
        except DomainError as error:
            self.message_user(request, f"Order {order.short_id} was not changed: {error}", messages.ERROR)
        else:
            self.message_user(request, f"Order {order.short_id} was {done}.", messages.SUCCESS)
        return HttpResponseRedirect(self._url("change", order.id))

    def _bulk(self, request, queryset, service, done):
        self.act_on_each(
            request,
            queryset,
            lambda row: service(order_id=row.pk, actor=request.user),
            done=f"{done.capitalize()}: order {{}}.",
            name=lambda row: str(row.pk)[:8],
            refused=lambda row, error: f"Not changed, order {str(row.pk)[:8]}: {error}",
        )

    @admin.action(description="Put selected orders on hold", permissions=["change"])
    def hold_orders(self, request, queryset):
        self._bulk(request, queryset, services.order_hold, "put on hold")

    @admin.action(description="Resume selected orders", permissions=["change"])
    def resume_orders(self, request, queryset):
        self._bulk(request, queryset, services.order_resume, "resumed")

    @admin.action(description="Mark selected orders completed (course ran to its end date)", permissions=["change"])
    def complete_orders(self, request, queryset):
        self._bulk(request, queryset, services.order_complete, "completed")


REVISE_MODEL_FIELDS = (
    "strength",
    "dose_form",
    "dose_unit",
    "route",
    "frequency_kind",
    "frequency_interval",
    "as_needed",
    "prn_indication",
    "end_date",
    "quantity",
    "refills",
    "instructions",
    "allergy_override_reason",
    "duplicate_override_reason",
)


class ReviseForm(OrderAlertsMixin, forms.Form):
    """The new details of a current order; the drug stays the same."""

    dose_amount = forms.DecimalField(label="Dose", help_text="How much is taken each time.")
    start_date = forms.DateField(
        label="takes effect on", help_text="The current order stops and the revised one starts on this day."
    )
    confirm_dose_change = dose_confirmation_field()
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        model_fields = fields_for_model(models.MedicationOrder, fields=REVISE_MODEL_FIELDS)
        ordered = {
            "strength": model_fields["strength"],
            "dose_form": model_fields["dose_form"],
            "dose_amount": self.fields.pop("dose_amount"),
        }
        ordered.update((name, field) for name, field in model_fields.items() if name not in ordered)
        ordered["start_date"] = self.fields.pop("start_date")
        ordered["confirm_dose_change"] = self.fields.pop("confirm_dose_change")
        ordered["version"] = self.fields.pop("version")
        self.fields = ordered

    def alerts(self) -> list:
        """Return the fields that carry a warning (shown at the top of the page)."""
        return [self[name] for name in self.alert_fields()]

    def without_alerts(self) -> types.SimpleNamespace:
        """Return the form's other fields, hidden and visible, as the fieldset include reads them."""
        alerts = set(self.alert_fields())
        return types.SimpleNamespace(
            hidden_fields=[field for field in self.hidden_fields() if field.name not in alerts],
            visible_fields=[field for field in self.visible_fields() if field.name not in alerts],
        )

    @staticmethod
    def initial_for(order: domain.MedicationOrder, *, today) -> dict:
        """Return the form's starting values: the order as it is."""
        return {
            "strength": order.strength,
            "dose_form": order.dose_form.value if order.dose_form else "",
            "dose_amount": order.dose_amount,
            "dose_unit": order.dose_unit.value if order.dose_unit else "",
            "route": order.route.value if order.route else "",
            "frequency_kind": order.frequency.kind.value if order.frequency.kind else "",
            "frequency_interval": order.frequency.interval,
            "as_needed": order.frequency.as_needed,
            "prn_indication": order.frequency.indication,
            "end_date": order.end_date,
            "quantity": domain.format_decimal(order.quantity),
            "refills": order.refills,
            "instructions": order.instructions,
            "allergy_override_reason": order.allergy_override_reason,
            "duplicate_override_reason": order.duplicate_override_reason,
            "start_date": today,
            "version": order.audit.version,
        }

    def revised(self, order: domain.MedicationOrder) -> domain.MedicationOrder:
        """Return `order` with the details of this form, at the version the form was loaded at."""
        data = self.cleaned_data
        revised = dataclasses.replace(
            order,
            strength=data["strength"],
            dose_form=domain.DoseForm(data["dose_form"]),
            dose_amount=data["dose_amount"],
            dose_unit=domain.DoseUnit(data["dose_unit"]),
            route=domain.Route(data["route"]),
            frequency=domain.Frequency(
                kind=domain.FrequencyKind(data["frequency_kind"]),
                interval=data["frequency_interval"],
                as_needed=data["as_needed"],
                indication=data["prn_indication"],
            ),
            end_date=data["end_date"],
            quantity=data["quantity"],
            refills=data["refills"],
            instructions=data["instructions"],
            allergy_override_reason=data["allergy_override_reason"],
            duplicate_override_reason=data["duplicate_override_reason"],
            audit=dataclasses.replace(order.audit, version=data["version"]),
        )
        return dataclasses.replace(revised, dose_change_confirmed=self.dose_confirmed(revised))


class DiscontinueForm(forms.Form):
    """Why and when a current order stops."""

    discontinue_reason = forms.ChoiceField(
        label="reason",
        choices=[("", "---------")]
        + [
            choice
            for choice in domain.DiscontinueReason.choices()
            if choice[0] != domain.DiscontinueReason.CHANGED.value
        ],
        help_text="To change the dose or frequency, use Revise instead: it keeps the timeline.",
    )
    discontinued_on = forms.DateField(label="stopped on")
    discontinue_note = forms.CharField(
        label="note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when the reason is 'Other'.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


# --- On the patient's page ------------------------------------------------------------------


class AllergyFormSet(BaseInlineFormSet):
    """The patient page's allergy rows, each saved through the allergy services as the signed-in user.

    A patient form posted without this section at all (a script, a page from before the
    section existed) does not change the list: it is read as "nothing here", not refused as a
    tampered form. A section that is present is validated as usual.
    """

    actor = None

    def __init__(self, data=None, files=None, **kwargs):
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        self.section_missing = data is not None and f"{prefix}-{TOTAL_FORM_COUNT}" not in data
        if self.section_missing:
            data = files = None
        super().__init__(data, files, **kwargs)
        if self.section_missing:
            self.new_objects, self.changed_objects, self.deleted_objects = [], [], []

    def is_valid(self):
        return self.section_missing or super().is_valid()

    def save(self, commit=True):
        return [] if self.section_missing else super().save(commit)

    def save_new(self, form, commit=True):
        setattr(form.instance, self.fk.name, self.instance)
        return _save_allergy(form.instance, actor=self.actor)

    def save_existing(self, form, obj, commit=True):
        return _save_allergy(obj, actor=self.actor)


def _save_allergy(obj: models.Allergy, *, actor) -> models.Allergy:
    """Record or change the allergy the admin form filled in, through the services; return its row."""
    if obj._state.adding:
        stored = services.allergy_add(allergy=obj.to_domain(with_audit=False), actor=actor)
    else:
        stored = services.allergy_update(allergy=obj.to_domain(), actor=actor)
    return models.Allergy.objects.get(pk=stored.id)


class AllergyInlineForm(VersionedModelForm):
    class Meta:
        model = models.Allergy
        fields = ("substance", "reaction", "severity", "status", "version")
        widgets = {"version": forms.HiddenInput}


@patients_admin.register_patient_inline
class AllergyInline(admin.TabularInline):
    """The patient's allergy list, editable where the patient's record is."""

    model = models.Allergy
    form = AllergyInlineForm
    formset = AllergyFormSet
    fields = ("substance", "reaction", "severity", "status", "version")
    extra = 1
    can_delete = False
    verbose_name_plural = "allergies (retire an entry by setting its status; entries are never deleted)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyOrderInline(ReadOnlyListingInline):
    """Orders shown on the patient page; they are changed on their own pages only."""

    model = models.MedicationOrder
    fk_name = "patient"
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("prescriber__staff_profile", "replaced_by")

    @admin.display(description="medication")
    def medication(self, obj):
        return obj.to_domain(with_audit=False).medication

    @admin.display(description="directions")
    def directions(self, obj):
        return obj.to_domain(with_audit=False).sig

    @admin.display(description="prescriber")
    def prescribed_by(self, obj):
        return _prescribed_by(obj)


@patients_admin.register_patient_inline
class CurrentMedicationInline(ReadOnlyOrderInline):
    """The patient's current medication list: active and on-hold orders."""

    verbose_name = "current medication"
    verbose_name_plural = "current medications (active and on hold)"
    template = "admin/medications/current_medications_inline.html"
    fields = readonly_fields = (
        "medication",
        "directions",
        "start_date",
        "end_date",
        "refills",
        "prescribed_by",
        "status",
    )
    ordering = ("start_date", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(status__in=[s.value for s in domain.CURRENT_STATUSES])

    def has_view_permission(self, request, obj=None):
        # The front desk sees the current list (novamind.roles) but no order itself.
        return request.user.has_perm("medications.view_current_medications") or super().has_view_permission(
            request, obj
        )

    def get_formset(self, request, obj=None, **kwargs):
        self.show_change_link = super().has_view_permission(request, obj)  # a link only where it opens
        return super().get_formset(request, obj, **kwargs)


@patients_admin.register_patient_inline
class MedicationHistoryInline(ReadOnlyOrderInline):
    """Every order the patient has had, oldest first: revisions follow what they replaced."""

    verbose_name = "medication history entry"
    verbose_name_plural = "medication history (every order, oldest first)"
    classes = ("collapse",)
    fields = readonly_fields = (
        "medication",
        "directions",
        "start_date",
        "discontinued_on",
        "stop_reason",
        "status",
        "revises",
    )
    ordering = ("start_date", "created_at")

    @admin.display(description="reason stopped")
    def stop_reason(self, obj):
        return obj.get_discontinue_reason_display() if obj.discontinue_reason else ""

    @admin.display(description="revises")
    def revises(self, obj):
        return f"order {str(obj.replaces_id)[:8]}" if obj.replaces_id else ""


# --- The allergy list on its own -------------------------------------------------------------


@admin.register(models.Allergy)
class AllergyAdmin(display.PatientColumnMixin, PatientSearchMixin, AuditedAdmin):
    access_category = "allergies"
    # Encrypted columns are shown through methods: a crafted ?o= must not sort ciphertext.
    list_display = ("entry", "patient_column", "allergen", "how_severe", "status", "updated_at")
    list_filter = ("status",)
    ordering = ("-created_at",)
    autocomplete_fields = ("patient",)
    fields = ("patient", "substance", "reaction", "severity", "status")

    def get_queryset(self, request):
        return policy.restrict(super().get_queryset(request), request.user)

    @admin.display(description="entry")
    def entry(self, obj):
        return str(obj)

    @admin.display(description="substance")
    def allergen(self, obj):
        return obj.substance

    @admin.display(description="severity")
    def how_severe(self, obj):
        return obj.get_severity_display()

    def get_readonly_fields(self, request, obj=None):
        # An allergy stays on the record of the patient it was recorded for.
        readonly = super().get_readonly_fields(request, obj)
        return readonly if obj is None else ("patient", *readonly)

    def save_model(self, request, obj, form, change):
        saved = _save_allergy(obj, actor=request.user)
        obj.pk, obj.version = saved.pk, saved.version
        obj._state.adding = False


def _prescribed_by(order: models.MedicationOrder) -> str:
    """Return who prescribed the order: the staff member, or where an order prescribed elsewhere was recorded from."""
    prescriber = models.prescriber_of(order.prescriber)
    if prescriber is not None:
        return prescriber.display_name
    return f"Prescribed elsewhere; recorded from {order.recorded_from}" if order.recorded_from else "—"
