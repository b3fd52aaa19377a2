"""The treatment-plan pages of the admin: draft, sign, revise; the plan as a timeline; progress on objectives.

A draft is edited on its page: the problems and the diagnoses it addresses, then goals,
objectives and interventions as rows below (an objective names its goal by number, so a whole
plan is written on one form). "Save and sign" signs it once it is complete. A plan that left the
draft is read-only: its page shows the plan with the progress recorded on each objective, and
offers Revise (a new draft copied from it), Record progress, Record the patient's agreement and
Discontinue, each a small page that calls a service (treatment_plans.services), which asks the
policy (role, then care) and the domain. Every page finds its plan through the changelist's
queryset, which the policy restricts: a plan outside the user's care is a 404 on every page.
"""

from __future__ import annotations

import dataclasses

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.forms.formsets import DELETION_FIELD_NAME, TOTAL_FORM_COUNT
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from clinical_notes import admin as notes_admin
from clinical_notes import domain as notes_domain
from clinical_notes import models as notes_models
from diagnoses import codeset
from diagnoses import models as diagnoses_models
from novamind import access, encryption
from novamind.admin import (
    AuditedAdmin,
    CappedCountPaginator,
    EncryptionAwareChangeList,
    ReadOnlyListingInline,
    VersionedModelForm,
    show_violation,
)
from novamind.domain import AccessDenied, ConcurrencyError, NotFound, RuleViolation, parse_id
from patients import admin as patients_admin
from patients import display, policy
from treatment_plans import domain, models, repository, services

GOALS_PREFIX = "goals"  # the goal rows' formset prefix (the plan's related name)
NOTES_OFFERED = 20  # the patient's latest signed progress notes offered on the progress page


def is_clinician(user) -> bool:
    """Return whether `user`'s staff profile says clinician (plans are written by clinicians)."""
    clinician = models.clinician_of(user)
    return bool(clinician and clinician.is_clinician and clinician.is_active)


def diagnosis_label(diagnosis) -> str:
    """Return a diagnosis as staff read it: code and official description."""
    return f"{diagnosis.code} {diagnosis.description or codeset.describe(diagnosis.code) or ''}".strip()


def review_label(row) -> str:
    """Return a plan's review date, marked overdue when the current plan is past it."""
    if row.review_due is None:
        return "—"
    if row.status == models.SIGNED and domain.is_overdue(row.review_due, today=timezone.localdate()):
        return format_html('{} <strong class="plan-overdue">overdue</strong>', row.review_due.isoformat())
    return row.review_due.isoformat()


def code_label(code: str) -> str:
    """Return a code the plan holds with its official description."""
    return f"{code} {codeset.describe(code) or ''}".strip()


# --- The draft: the plan's own form and its rows -------------------------------------------------


class PlanForm(VersionedModelForm):
    """The plan's own fields: the patient (on a new plan), the problems and the diagnoses addressed.

    The diagnoses offered are the patient's current ones (active or in remission), the patient
    being the plan's, or the one chosen on a new plan's form.
    """

    diagnoses_addressed = forms.ModelMultipleChoiceField(
        label="Diagnoses addressed",
        queryset=diagnoses_models.Diagnosis.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The patient's current diagnoses (active or in remission) this plan treats; at least one to sign it. "
        "On a new plan, choose the patient and save to see them.",
    )
    editor = None  # who posts the form (a POST only)
    viewer = None  # who opens it: the diagnoses are offered only of a patient they may see

    class Meta:
        model = models.TreatmentPlan
        fields = "__all__"
        widgets = {"problems": forms.Textarea(attrs={"rows": 4, "cols": 80})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("diagnoses_addressed")
        if field is None:
            return
        patient_id = self._patient_id()
        if patient_id is not None and self.viewer is not None and policy.may_see(self.viewer, patient_id):
            field.queryset = diagnoses_models.Diagnosis.objects.filter(
                patient_id=patient_id, status__in=repository.CURRENT_DIAGNOSES
            ).order_by("created_at")
        field.label_from_instance = diagnosis_label
        if not self.instance._state.adding:
            field.initial = list(self.instance.addressed.values_list("diagnosis_id", flat=True))

    def _patient_id(self):
        if not self.instance._state.adding:
            return self.instance.patient_id
        value = self.data.get(self.add_prefix("patient")) if self.is_bound else self.initial.get("patient")
        return parse_id(value)

    def clean(self):
        cleaned = super().clean()
        if self.editor is not None and not is_clinician(self.editor):
            raise forms.ValidationError(
                f"Only clinicians write treatment plans: the staff profile of {self.editor.get_username()} "
                f"does not say clinician."
            )
        return cleaned


class DraftRowsFormSet(BaseInlineFormSet):
    """The rows of a draft (goals, objectives or interventions): checked here, written by the plan's service."""

    def kept_forms(self) -> list:
        """Return the forms whose rows the draft keeps: stored rows not removed, and new rows filled in."""
        deleted = set(self.deleted_forms) if self.can_delete else set()
        return [
            form
            for index, form in enumerate(self.forms)
            if form not in deleted and (index < self.initial_form_count() or form.has_changed())
        ]


class ObjectiveFormSet(DraftRowsFormSet):
    """The objectives; each names a goal of the goal rows posted with it (by number)."""

    def clean(self):
        super().clean()
        numbers = goal_numbers(self.data)
        for form in self.kept_forms():
            number = form.cleaned_data.get("goal_number")
            if number is not None and number not in numbers:
                form.add_error("goal_number", f"There is no goal {number} in this plan: write the goal first.")


def goal_numbers(data) -> set[int]:
    """Return the numbers of the goal rows a plan's form posted (rows marked for removal left out)."""
    total = data.get(f"{GOALS_PREFIX}-{TOTAL_FORM_COUNT}", "")
    count = int(total) if total.isascii() and total.isdigit() else 0
    numbers = set()
    for index in range(min(count, 1000)):
        prefix = f"{GOALS_PREFIX}-{index}"
        value = data.get(f"{prefix}-number", "")
        if data.get(f"{prefix}-{DELETION_FIELD_NAME}") or not (value.isascii() and value.isdigit()):
            continue
        numbers.add(int(value))
    return numbers


class DraftRowsInline(admin.TabularInline):
    """Rows of a draft plan, editable on its page while the user may change the plan."""

    formset = DraftRowsFormSet
    extra = 1
    can_delete = True

    def _editable(self, request, obj) -> bool:
        permission = "add" if obj is None else "change"
        return request.user.has_perm(f"treatment_plans.{permission}_treatmentplan") and (
            obj is None or obj.status == models.DRAFT
        )

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("treatment_plans.view_treatmentplan")


class GoalInline(DraftRowsInline):
    model = models.Goal
    fields = ("number", "text")
    verbose_name_plural = "goals (objectives name their goal by its number)"
    formfield_overrides = {encryption.EncryptedTextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 60})}}

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        if obj is None:
            formset.form.base_fields["number"].initial = 1
        else:
            taken = set(obj.goals.values_list("number", flat=True))
            formset.form.base_fields["number"].initial = max(taken, default=0) + 1
        return formset


class ObjectiveInline(DraftRowsInline):
    model = models.Objective
    formset = ObjectiveFormSet
    fields = ("goal_number", "text", "target_date", "status")
    extra = 2
    verbose_name_plural = "objectives (measurable, each with a target date before signing)"
    formfield_overrides = {encryption.EncryptedTextField: {"widget": forms.Textarea(attrs={"rows": 2, "cols": 50})}}


class InterventionInline(DraftRowsInline):
    model = models.Intervention
    fields = ("modality", "frequency", "clinician")
    verbose_name_plural = "interventions"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinician":
            # The clinicians of the clinic: a responsible clinician is one whose profile says so.
            kwargs["queryset"] = (
                get_user_model()
                .objects.filter(is_active=True, staff_profile__is_clinician=True)
                .select_related("staff_profile")
                .order_by("last_name", "first_name", "username")
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "clinician":
            field.label_from_instance = lambda user: models.clinician_of(user).label
        return field


DRAFT_INLINES = (GoalInline, ObjectiveInline, InterventionInline)


def plan_from_forms(form, formsets, *, stored: domain.TreatmentPlan | None) -> domain.TreatmentPlan:
    """Return the draft the plan's form and its rows describe (on the stored plan, when there is one)."""
    rows = {formset.model: formset for formset in formsets}
    objectives: dict[int, list[domain.Objective]] = {}
    for row in rows[models.Objective].kept_forms():
        data = row.cleaned_data
        objectives.setdefault(data["goal_number"], []).append(
            domain.Objective(
                text=data.get("text") or "",
                target_date=data.get("target_date"),
                status=domain.ObjectiveStatus(data.get("status") or domain.ObjectiveStatus.NOT_STARTED.value),
                id=None if row.instance._state.adding else row.instance.pk,
            )
        )
    goals = tuple(
        domain.Goal(
            number=row.cleaned_data["number"],
            text=row.cleaned_data.get("text") or "",
            objectives=tuple(objectives.get(row.cleaned_data["number"], ())),
        )
        for row in rows[models.Goal].kept_forms()
    )
    interventions = tuple(
        domain.Intervention(
            modality=row.cleaned_data.get("modality") or "",
            frequency=row.cleaned_data.get("frequency") or "",
            clinician=models.clinician_of(row.cleaned_data.get("clinician")),
            id=None if row.instance._state.adding else row.instance.pk,
        )
        for row in rows[models.Intervention].kept_forms()
    )
    content = {
        "problems": form.cleaned_data.get("problems") or "",
        "diagnoses": tuple(
            domain.AddressedDiagnosis(diagnosis_id=diagnosis.pk, code=diagnosis.code)
            for diagnosis in form.cleaned_data.get("diagnoses_addressed") or ()
        ),
        "goals": goals,
        "interventions": interventions,
    }
    if stored is None:
        return domain.TreatmentPlan(patient_id=form.instance.patient_id, **content)
    seen = dataclasses.replace(stored.audit, version=form.cleaned_data.get("version") or stored.audit.version)
    return dataclasses.replace(stored, audit=seen, **content)


# --- The plan's pages ---------------------------------------------------------------------------


class PlanChangeList(EncryptionAwareChangeList):
    """The plan list: it shows no text, so the encrypted columns stay unread."""

    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer("problems", "agreement_note", "discontinue_note")


@dataclasses.dataclass
class PlanView:
    """What a plan's page shows, read once for the page: the plan with its parts, and the progress per objective."""

    plan: domain.TreatmentPlan
    progress: dict


@admin.register(models.TreatmentPlan)
class TreatmentPlanAdmin(display.PatientColumnMixin, patients_admin.PatientPickerMixin, AuditedAdmin):
    form = PlanForm
    access_category = services.ACCESS_CATEGORY
    change_form_template = "admin/treatment_plans/treatmentplan/change_form.html"
    list_display = ("plan", "patient_column", "version_number", "status", "signed_at", "signed_by", "review")
    list_filter = ("status", ("review_due", admin.DateFieldListFilter), ("signed_by", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("signed_by",)  # patients: PatientColumnMixin
    search_fields = ("=patient__mrn",)
    search_help_text = "The patient's MRN, exactly."
    ordering = ("-created_at",)
    autocomplete_fields = ("patient",)
    show_full_result_count = False
    paginator = CappedCountPaginator  # an exact count would read every plan the user may see
    inlines = DRAFT_INLINES

    VIEW_FIELDS = ("plan_summary", "timeline", "integrity", "addressed", "goals_and_objectives", "interventions_shown")
    VIEW_FIELDS += ("agreement_shown", "closing")
    HISTORY_FIELDS = (
        "status",
        "version_number",
        "problems",
        "signed_by",
        "signed_at",
        "review_due",
        "content_hash",
        "agreed_on",
        "agreement_method",
        "agreement_note",
        "discontinued_on",
        "discontinue_reason",
        "discontinue_note",
    )

    def get_queryset(self, request):
        # A clinician sees the plans of the patients in their care (patients.policy).
        return policy.restrict(super().get_queryset(request), request.user)

    def get_changelist(self, request, **kwargs):
        return PlanChangeList

    # --- who may change what --------------------------------------------------------------

    def _editing(self, request, obj) -> bool:
        return obj is not None and obj.status == models.DRAFT and self.has_change_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        # Only a draft is edited, by a clinician; a signed plan changes through its workflow pages.
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        return obj.status == models.DRAFT and is_clinician(request.user)

    def get_inlines(self, request, obj):
        if getattr(request, "_novamind_history_version", False):
            return []
        return list(DRAFT_INLINES) if obj is None or self._editing(request, obj) else []

    def get_fieldsets(self, request, obj=None):
        if getattr(request, "_novamind_history_version", False):
            return [("Plan, as it was", {"fields": ("patient", *self.HISTORY_FIELDS)})]
        if obj is None:
            return [("Plan", {"fields": ("patient", "problems", "diagnoses_addressed")})]
        record = (
            "Record",
            {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))},
        )
        if self._editing(request, obj):
            plan = ("Plan", {"fields": ("patient", "plan_summary", "timeline", "problems", "diagnoses_addressed")})
            return [plan, record]
        fieldsets = [
            ("Plan", {"fields": ("patient", "plan_summary", "timeline", "integrity")}),
            ("Problems, in the patient's words", {"fields": ("problems",)}),
            ("Diagnoses addressed", {"fields": ("addressed",)}),
            ("Goals and objectives", {"fields": ("goals_and_objectives",)}),
            ("Interventions", {"fields": ("interventions_shown",)}),
        ]
        if obj.signed_at is not None:
            fieldsets.append(("The patient's agreement", {"fields": ("agreement_shown",)}))
        if obj.status == models.DISCONTINUED:
            fieldsets.append(("Discontinued", {"fields": ("closing",)}))
        return [*fieldsets, record]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        if getattr(request, "_novamind_history_version", False):
            return (*super().get_readonly_fields(request, obj), "patient", *self.HISTORY_FIELDS)
        return (*super().get_readonly_fields(request, obj), "patient", *self.VIEW_FIELDS)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        editor = request.user if request.method == "POST" else None
        return type(form.__name__, (form,), {"editor": editor, "viewer": request.user})

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("A plan is not reverted in place: revise it instead.")
        request._novamind_history_version = True
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return True

    # --- saving: the plan and its rows together, through the services --------------------

    def save_model(self, request, obj, form, change):
        # The plan and its rows are written together, by one service call, in save_related: a
        # draft is one record whose version covers its rows (and its rows may change when the
        # plan's own fields did not).
        return None

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.save(commit=False)  # what changed, for the change message; nothing is written
        if change and not form.has_changed() and not any(formset.has_changed() for formset in formsets):
            return
        obj = form.instance
        if not change:
            stored = services.plan_create(plan=plan_from_forms(form, formsets, stored=None), actor=request.user)
        else:
            current = repository.DjangoTreatmentPlanRepository(actor=request.user).get_by_id(obj.pk)
            stored = services.plan_update(plan=plan_from_forms(form, formsets, stored=current), actor=request.user)
        obj.pk = stored.id
        obj._state.adding = False
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        if "_sign" in request.POST:
            return self._sign(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_sign" in request.POST:
            return self._sign(request, obj)
        return super().response_change(request, obj)

    def _sign(self, request, obj):
        """Sign the draft just saved ("Save and sign"); what keeps it from being signed is shown, the draft kept."""
        request._novamind_nothing_saved = False
        obj.refresh_from_db()
        try:
            signed = services.plan_sign(plan_id=obj.pk, actor=request.user, version=obj.version)
        except RuleViolation as violation:
            self.message_user(request, "The draft is saved, but not signed:", messages.WARNING)
            for field_messages in violation.errors.values():
                for message in field_messages:
                    self.message_user(request, message, messages.ERROR)
        except (AccessDenied, ConcurrencyError) as error:
            self.message_user(request, f"The draft is saved, but not signed: {error}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Version {signed.version_number} is signed and is the current plan; review due "
                f"{signed.review_due:%Y-%m-%d}. A change is now a new version (Revise).",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(self._url("change", obj.pk))

    # --- the page of one plan --------------------------------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_uuid(object_id)
            extra_context = {**(extra_context or {}), **self._plan_context(request, object_id)}
        else:
            extra_context = {"can_sign": True, **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _plan_context(self, request, object_id) -> dict:
        row = self.get_queryset(request).filter(pk=object_id).first()
        if row is None:
            return {}
        tools = []

        def tool(name, label):
            tools.append({"url": self._url(name, row.pk), "label": label, "id": f"plan-{name}"})

        changes = self.has_change_permission(request) and is_clinician(request.user)
        if row.status == models.SIGNED and changes:
            tool("revise", "Revise")
            if request.user.has_perm(services.RECORD_PROGRESS):
                tool("progress", "Record progress")
            if row.agreed_on is None:
                tool("agreement", "Record patient's agreement")
        if row.status in (models.SIGNED, models.DRAFT) and changes:
            tool("discontinue", "Discontinue" if row.status == models.SIGNED else "Discontinue draft")
        return {"plan_tools": tools, "can_sign": row.status == models.DRAFT and changes}

    def _view(self, obj) -> PlanView:
        """Return the plan of `obj` with what its page shows, read once per page (the fields share `obj`)."""
        if "_plan_view" not in obj.__dict__:
            plan = obj.to_domain(parts=repository.parts_of([obj.pk])[obj.pk])
            progress: dict = {}
            for row in repository.progress_rows(objective__plan_id=obj.pk):
                entry = row.to_domain()
                progress.setdefault(entry.objective_id, []).append(entry)
            obj.__dict__["_plan_view"] = PlanView(plan=plan, progress=progress)
        return obj.__dict__["_plan_view"]

    def _url(self, name, *args):
        return reverse(f"admin:treatment_plans_treatmentplan_{name}", args=args)

    # --- columns and read-only fields -------------------------------------------------------

    @admin.display(description="plan")
    def plan(self, obj):
        return str(obj)

    @admin.display(description="review due", ordering="review_due")
    def review(self, obj):
        return review_label(obj)

    @admin.display(description="plan")
    def plan_summary(self, obj):
        plan = self._view(obj).plan
        parts = [f"Version {plan.version_number}", plan.status.label]
        if plan.signed_at:
            parts.append(f"signed {timezone.localtime(plan.signed_at):%Y-%m-%d %H:%M} by {plan.signed_by.label}")
        text = " · ".join(parts)
        if plan.is_current and plan.review_due:
            overdue = domain.is_overdue(plan.review_due, today=timezone.localdate())
            return format_html(
                "{} · review due {}{}",
                text,
                plan.review_due.isoformat(),
                format_html(' <strong class="plan-overdue">overdue</strong>') if overdue else "",
            )
        return text

    @admin.display(description="timeline")
    def timeline(self, obj):
        plan = self._view(obj).plan
        parts = []
        if plan.replaces_id:
            parts.append(
                format_html(
                    'revises <a href="{}">{}</a>', self._url("change", plan.replaces_id), "the previous version"
                )
            )
        if plan.replaced_by_id:
            verb = "superseded by" if plan.status is domain.PlanStatus.SUPERSEDED else "revised in"
            parts.append(
                format_html(
                    '{} <a href="{}">{}</a>', verb, self._url("change", plan.replaced_by_id), "the next version"
                )
            )
        parts.append(
            format_html(
                '<a href="{}?patient__id__exact={}">every version of this patient\'s plan</a>',
                self._url("changelist"),
                plan.patient_id,
            )
        )
        return format_html_join("; ", "{}", ((part,) for part in parts))

    @admin.display(description="integrity")
    def integrity(self, obj):
        plan = self._view(obj).plan
        if not plan.was_signed:
            return "Not signed: no content hash yet."
        if plan.hash_matches():
            return "The content matches the hash taken at signing."
        return format_html(
            '<strong class="plan-overdue">{}</strong>',
            "The content no longer matches the hash taken at signing: it was changed outside NovaMind. "
            "Run verify_plans and report it to the privacy officer.",
        )

    @admin.display(description="diagnoses addressed")
    def addressed(self, obj):
        diagnoses = self._view(obj).plan.diagnoses
        if not diagnoses:
            return "—"
        return format_html_join("", "<div>{}</div>", ((code_label(d.code),) for d in diagnoses))

    @admin.display(description="goals and objectives")
    def goals_and_objectives(self, obj):
        view = self._view(obj)
        if not view.plan.goals:
            return "—"
        rows = []
        for goal in view.plan.goals:
            rows.append(
                format_html('<tr class="plan-goal"><th colspan="4">Goal {}: {}</th></tr>', goal.number, goal.text)
            )
            for objective in goal.objectives:
                entries = view.progress.get(objective.id, [])
                latest = entries[-1].status.label if entries else "—"
                rows.append(
                    format_html(
                        '<tr class="plan-objective"><td>{}.{} {}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
                        goal.number,
                        objective.number,
                        objective.text,
                        objective.target_date.isoformat() if objective.target_date else "—",
                        objective.status.label,
                        latest,
                    )
                )
                for entry in entries:
                    rows.append(
                        format_html(
                            '<tr class="plan-progress"><td colspan="4">{} — {}{} {}<span class="quiet"> (recorded by {})</span></td></tr>',
                            entry.date_of_service.isoformat() if entry.date_of_service else "",
                            entry.status.label,
                            f", {entry.rating.label.lower()}" if entry.rating else "",
                            f"— {entry.comment}" if entry.comment else "",
                            entry.recorded_by,
                        )
                    )
        head = format_html(
            "<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>",
            "Objective",
            "Target date",
            "Status when signed",
            "Latest progress",
        )
        return format_html(
            '<table class="plan-goals">{}<tbody>{}</tbody></table>',
            head,
            format_html_join("", "{}", ((r,) for r in rows)),
        )

    @admin.display(description="interventions")
    def interventions_shown(self, obj):
        interventions = self._view(obj).plan.interventions
        if not interventions:
            return "—"
        return format_html(
            '<table class="plan-interventions"><thead><tr><th>Modality</th><th>Frequency</th>'
            "<th>Responsible clinician</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((i.modality, i.frequency, i.clinician.label if i.clinician else "—") for i in interventions),
            ),
        )

    @admin.display(description="agreement")
    def agreement_shown(self, obj):
        agreement = self._view(obj).plan.agreement
        if agreement is None:
            return "Not recorded."
        text = f"{agreement.method.label if agreement.method else ''} on {agreement.agreed_on:%Y-%m-%d}"
        return f"{text}: {agreement.note}" if agreement.note else text

    @admin.display(description="discontinued")
    def closing(self, obj):
        plan = self._view(obj).plan
        if plan.discontinued_on is None:
            return "—"
        text = f"On {plan.discontinued_on:%Y-%m-%d}: {plan.discontinue_reason.label if plan.discontinue_reason else ''}"
        return f"{text}. {plan.discontinue_note}" if plan.discontinue_note else text

    # --- workflow pages ---------------------------------------------------------------------

    def get_urls(self):
        def view(name, function):
            return path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(function),
                name=f"treatment_plans_treatmentplan_{name}",
            )

        return [
            view("revise", self.revise_view),
            view("discontinue", self.discontinue_view),
            view("agreement", self.agreement_view),
            view("progress", self.progress_view),
            path(
                "record-progress/<path:object_id>/",
                self.admin_site.admin_view(self.progress_for_note_view),
                name="treatment_plans_treatmentplan_progress_for_note",
            ),
            *super().get_urls(),
        ]

    def _workflow_plan(self, request, object_id, permission: str) -> models.TreatmentPlan:
        """Return the plan's row if the user may take a step on it (the role, then care); else 403 or 404."""
        self._require_uuid(object_id)
        if not request.user.has_perm(permission):
            self.log_refusal(request, "workflow", object_id)
            raise PermissionDenied
        row = self.get_queryset(request).filter(pk=object_id).first()
        if row is None:
            raise Http404("No treatment plan with that ID.")
        return row

    def _render_workflow(self, request, row, form, *, title, submit_label, explanation, template=None, **context):
        # These pages show the plan, so reading them is recorded like any other view of PHI.
        access.record(
            user=request.user,
            action=f"view ({submit_label.lower()} form)",
            category=self.access_category,
            patient=row.patient,
            obj=row,
            request=request,
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "object": row,
            "form": form,
            "change_url": self._url("change", row.pk),
            "submit_label": submit_label,
            "explanation": explanation,
            **context,
        }
        return TemplateResponse(request, template or "admin/treatment_plans/treatmentplan/workflow_form.html", context)

    def _perform(self, request, form, step, *, done):
        """Call `step()` (a service); on success redirect with `done`, else put its refusal on `form`."""
        try:
            result = step()
        except AccessDenied as refusal:
            raise PermissionDenied(str(refusal)) from None
        except RuleViolation as violation:
            show_violation(form, violation, model=models.TreatmentPlan)
        except (ConcurrencyError, NotFound) as error:
            form.add_error(None, str(error))
        else:
            self.message_user(request, done(result), messages.SUCCESS)
            return HttpResponseRedirect(self._url("change", result.id))
        return None

    def revise_view(self, request, object_id):
        row = self._workflow_plan(request, object_id, services.CHANGE)
        form = VersionForm(request.POST or None, initial={"version": row.version})
        if request.method == "POST" and form.is_valid():
            response = self._perform(
                request,
                form,
                lambda: services.plan_revise(plan_id=row.pk, version=form.cleaned_data["version"], actor=request.user),
                done=lambda new: (
                    f"Version {new.version_number} is a draft copied from the current plan: change it, "
                    f"then save and sign it. The current plan stays in force until then."
                ),
            )
            if response:
                return response
        return self._render_workflow(
            request,
            row,
            form,
            title="Revise the treatment plan",
            submit_label="Revise",
            explanation="A signed plan never changes. Revising starts its next version: a draft holding a copy of "
            "this plan (its objectives at their latest progress), linked to it. This plan stays current until "
            "the new version is signed; it is then superseded, and both stay in the timeline.",
        )

    def discontinue_view(self, request, object_id):
        row = self._workflow_plan(request, object_id, services.CHANGE)
        form = DiscontinueForm(
            request.POST or None, initial={"discontinued_on": timezone.localdate(), "version": row.version}
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            response = self._perform(
                request,
                form,
                lambda: services.plan_discontinue(
                    plan_id=row.pk,
                    reason=domain.DiscontinueReason(data["discontinue_reason"]),
                    on=data["discontinued_on"],
                    note=data["discontinue_note"],
                    version=data["version"],
                    actor=request.user,
                ),
                done=lambda plan: (
                    f"The plan (version {plan.version_number}) is discontinued; it stays in the timeline."
                ),
            )
            if response:
                return response
        return self._render_workflow(
            request,
            row,
            form,
            title="Discontinue the treatment plan",
            submit_label="Discontinue",
            explanation="The plan is closed (treatment completed, the patient left care…) and kept in the record. "
            "To change a plan, revise it instead: its next version supersedes it.",
        )

    def agreement_view(self, request, object_id):
        row = self._workflow_plan(request, object_id, services.CHANGE)
        form = AgreementForm(request.POST or None, initial={"agreed_on": timezone.localdate(), "version": row.version})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            response = self._perform(
                request,
                form,
                lambda: services.plan_agreement_record(
                    plan_id=row.pk,
                    agreed_on=data["agreed_on"],
                    method=domain.AgreementMethod(data["agreement_method"]),
                    note=data["agreement_note"],
                    version=data["version"],
                    actor=request.user,
                ),
                done=lambda plan: "The patient's agreement to the plan is recorded.",
            )
            if response:
                return response
        return self._render_workflow(
            request,
            row,
            form,
            title="Record the patient's agreement",
            submit_label="Record agreement",
            explanation="The patient agreed to this signed plan: say when and how. It is recorded once.",
        )

    def progress_view(self, request, object_id):
        row = self._workflow_plan(request, object_id, services.RECORD_PROGRESS)
        plan = repository.DjangoTreatmentPlanRepository(actor=request.user).get_by_id(row.pk)
        notes = progress_notes(row.patient_id)
        chosen = request.GET.get("note", "")
        form = ProgressForm(
            request.POST if request.method == "POST" else None,
            plan=plan,
            notes=notes,
            initial={"note": chosen if any(str(pk) == chosen for pk, _ in notes) else ""},
        )
        if request.method == "POST" and form.is_valid():
            recorded = self._record_progress(request, form)
            if recorded:
                self.message_user(request, f"Progress recorded on {recorded} objective(s).", messages.SUCCESS)
                return HttpResponseRedirect(self._url("change", row.pk))
        return self._render_workflow(
            request,
            row,
            form,
            title="Record progress on the plan's objectives",
            submit_label="Record progress",
            explanation="From one signed progress note of this patient: for each objective the session worked on, "
            "where it stands now and how it moved. Objectives left at “—” are not recorded. Entries never change.",
            template="admin/treatment_plans/treatmentplan/progress_form.html",
            plan_is_current=plan.is_current,
        )

    def _record_progress(self, request, form) -> int:
        """Record each objective the form fills in, all or none; return how many (0: refused, errors on the form)."""
        entries = form.entries()
        if not entries:
            form.add_error(None, "Choose a status for at least one objective.")
            return 0
        note_id = form.cleaned_data["note"]  # a refusal naming the note takes it out of cleaned_data
        with transaction.atomic():
            for index, objective, data in entries:
                try:
                    services.objective_progress_record(
                        objective_id=objective.id,
                        note_id=note_id,
                        status=domain.ObjectiveStatus(data["status"]),
                        rating=domain.ProgressRating(data["rating"]) if data["rating"] else None,
                        comment=data["comment"],
                        actor=request.user,
                    )
                except AccessDenied as refusal:
                    raise PermissionDenied(str(refusal)) from None
                except (RuleViolation, NotFound) as error:
                    violation = error if isinstance(error, RuleViolation) else RuleViolation(str(error))
                    show_violation(form, violation, aliases=form.aliases(index))
            if form.errors:
                transaction.set_rollback(True)
                return 0
        return len(entries)

    def progress_for_note_view(self, request, object_id):
        """Open the progress page of the current plan of a note's patient, the note chosen (linked from a note)."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        note_id = parse_id(object_id)
        if note_id is None:
            raise Http404("No clinical note with that ID.")
        if not request.user.has_perm(services.RECORD_PROGRESS):
            self.log_refusal(request, "workflow")
            raise PermissionDenied
        patient_id = (
            notes_models.ClinicalNote.objects.general().filter(pk=note_id).values_list("patient_id", flat=True).first()
        )
        if patient_id is None or not policy.may_see(request.user, patient_id):
            raise Http404("No clinical note with that ID.")
        plan = self.get_queryset(request).filter(patient_id=patient_id, status=models.SIGNED).first()
        if plan is None:
            self.message_user(
                request, "This patient has no current treatment plan to record progress on.", messages.WARNING
            )
            return HttpResponseRedirect(reverse("admin:clinical_notes_clinicalnote_change", args=[note_id]))
        return HttpResponseRedirect(f"{self._url('progress', plan.pk)}?note={note_id}")


# --- The workflow pages' forms ---------------------------------------------------------------------


class VersionForm(forms.Form):
    """Nothing to fill in but the version the page was loaded at."""

    version = forms.IntegerField(widget=forms.HiddenInput)


class DiscontinueForm(VersionForm):
    """Why and when a plan closes."""

    discontinue_reason = forms.ChoiceField(
        label="reason", choices=[("", "---------"), *domain.DiscontinueReason.choices()]
    )
    discontinued_on = forms.DateField(label="discontinued on")
    discontinue_note = forms.CharField(
        label="note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required when the reason is 'Other'.",
    )


class AgreementForm(VersionForm):
    """When and how the patient agreed to the plan."""

    agreed_on = forms.DateField(label="agreed on")
    agreement_method = forms.ChoiceField(label="how", choices=[("", "---------"), *domain.AgreementMethod.choices()])
    agreement_note = forms.CharField(label="note", required=False, widget=forms.Textarea(attrs={"rows": 3}))


def progress_notes(patient_id) -> list[tuple]:
    """Return (id, label) of the patient's latest signed progress notes, newest first (no text read)."""
    rows = (
        notes_models.ClinicalNote.objects.filter(
            patient_id=patient_id,
            kind=notes_domain.NoteKind.PROGRESS_NOTE.value,
            status=notes_domain.NoteStatus.SIGNED.value,
        )
        .without_text()
        .select_related("author__staff_profile")
        .order_by("-date_of_service", "-signed_at")[:NOTES_OFFERED]
    )
    return [
        (row.pk, f"{row.date_of_service:%Y-%m-%d} progress note by {models.clinician_of(row.author).label}")
        for row in rows
    ]


def progress_tool(request, note) -> dict | None:
    """Offer "Record progress on the treatment plan" on a signed progress note's page to who may record it."""
    if (
        note.kind != notes_domain.NoteKind.PROGRESS_NOTE
        or not note.is_signed
        or not request.user.has_perm(services.RECORD_PROGRESS)
    ):
        return None
    url = reverse("admin:treatment_plans_treatmentplan_progress_for_note", args=[note.id])
    return {"url": url, "label": "Record progress on the treatment plan"}


notes_admin.NOTE_TOOLS_OF_OTHER_APPS.append(progress_tool)


class ProgressForm(forms.Form):
    """One signed progress note, and for each objective of the plan: its status, how it moved, a comment."""

    note = forms.ChoiceField(label="progress note", help_text="The patient's signed progress notes, newest first.")

    def __init__(self, *args, plan: domain.TreatmentPlan, notes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["note"].choices = [("", "---------"), *((str(pk), label) for pk, label in notes)]
        self.objectives = list(plan.objectives)
        statuses = [("", "—"), *((status.value, status.label) for status in domain.PROGRESS_STATUSES)]
        for index, (goal, objective) in enumerate(self.objectives):
            label = f"{goal.number}.{objective.number}"
            self.fields[f"status_{index}"] = forms.ChoiceField(
                label=f"{label} status", choices=statuses, required=False
            )
            self.fields[f"rating_{index}"] = forms.ChoiceField(
                label=f"{label} progress", choices=[("", "—"), *domain.ProgressRating.choices()], required=False
            )
            self.fields[f"comment_{index}"] = forms.CharField(
                label=f"{label} comment", required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 40})
            )

    def rows(self) -> list[dict]:
        """Return each objective with its three fields, for the page's table."""
        return [
            {
                "goal": goal,
                "objective": objective,
                "status": self[f"status_{index}"],
                "rating": self[f"rating_{index}"],
                "comment": self[f"comment_{index}"],
            }
            for index, (goal, objective) in enumerate(self.objectives)
        ]

    def entries(self) -> list[tuple]:
        """Return (index, objective, its fields) of each objective given a status."""
        data = self.cleaned_data
        return [
            (index, objective, {name: data.get(f"{name}_{index}") or "" for name in ("status", "rating", "comment")})
            for index, (_goal, objective) in enumerate(self.objectives)
            if data.get(f"status_{index}")
        ]

    def aliases(self, index: int) -> dict[str, str]:
        """Return where the service's errors about objective `index` go on this form."""
        return {
            "status": f"status_{index}",
            "rating": f"rating_{index}",
            "comment": f"comment_{index}",
            "objective": f"status_{index}",
        }


# --- On the patient's page -----------------------------------------------------------------------


@patients_admin.register_patient_inline
class PlanTimelineInline(ReadOnlyListingInline):
    """Every version of the patient's treatment plan, newest first: status, signature, review date."""

    model = models.TreatmentPlan
    fk_name = "patient"
    verbose_name = "treatment plan"
    verbose_name_plural = "treatment plans (every version, newest first)"
    fields = readonly_fields = ("plan_link", "version_number", "status", "signed_at", "signed_by", "review")
    ordering = ("-created_at",)

    def get_queryset(self, request):
        # Statuses and dates only: no encrypted column is read.
        return (
            super()
            .get_queryset(request)
            .select_related("signed_by")
            .defer("problems", "agreement_note", "discontinue_note")
        )

    @admin.display(description="plan")
    def plan_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:treatment_plans_treatmentplan_change", args=[obj.pk]), str(obj)
        )

    @admin.display(description="review due")
    def review(self, obj):
        return review_label(obj)
