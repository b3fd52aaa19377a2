"""The diagnosis pages of the admin: record a coded diagnosis, change its details, move its status.

The code is picked with an autocomplete over the ICD-10-CM code set (`codeset.search`, by code or
by words), not over the patient data: its JSON view (`code-autocomplete/`) answers anyone who may
view diagnoses and reads no record. A recorded diagnosis keeps its patient and code; its status
and primary flag are read-only on its page and change through the buttons there (Change status,
Make primary), each calling a service (`diagnoses.services`), which asks the access policy and the
domain. The list and every page of a diagnosis read through the changelist's queryset, which the
policy restricts, so a diagnosis outside the user's care is a 404 everywhere.
"""

from __future__ import annotations

import dataclasses

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone

from diagnoses import codeset, domain, models, repository, selectors, services
from novamind import access
from novamind.admin import AuditedAdmin, CappedCountPaginator, VersionedModelForm, show_violation
from novamind.domain import AccessDenied, ConcurrencyError, DomainError, RuleViolation, parse_count, parse_id
from patients import display, policy
from patients.admin import PatientPickerMixin

CODE_AUTOCOMPLETE = "diagnoses_diagnosis_code_autocomplete"
PAGE_SIZE = codeset.SEARCH_LIMIT


def code_label(code: str, description: str) -> str:
    """Return "F32.1 Major depressive disorder, single episode, moderate"."""
    return f"{code} {description}"


class CodeAutocompleteSelect(AutocompleteMixin, forms.Select):
    """Django admin's autocomplete select (Select2, its script and styles), asking the code-set search.

    The choices are not rows but codes: the selected option is labelled from the code set, and a
    posted value that is no billable code shows as it was typed, so the form re-renders it with its
    error instead of failing.
    """

    url_name = f"%s:{CODE_AUTOCOMPLETE}"

    def __init__(self, admin_site, attrs=None):
        super().__init__(models.Diagnosis._meta.get_field("code"), admin_site, attrs=attrs)

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-width"] = "40em"  # wide enough for the longer official descriptions
        attrs["data-placeholder"] = "Type a code (F32) or words (major depressive)"
        return attrs

    def optgroups(self, name, value, attr=None):
        options = [self.create_option(name, "", "", False, 0)]
        for index, code in enumerate(item for item in value if item not in ("", None)):
            description = codeset.describe(str(code))
            label = code_label(codeset.normalize(str(code)), description) if description else str(code)
            options.append(self.create_option(name, str(code), label, True, index + 1))
        return [(None, options, 0)]


class DiagnosisForm(VersionedModelForm):
    """A diagnosis; a code already on the patient's problem list is an error next to the code.

    The rule is the repository's (`repository.check_problem_list`), read here before saving; the
    repository reads it again under the patient's lock when it writes.
    """

    def _post_clean(self):
        super()._post_clean()
        if self.instance.patient_id and self.instance.code and not self.has_error("code"):
            try:
                repository.check_problem_list(self.instance.to_domain(with_audit=False))
            except RuleViolation as violation:
                show_violation(self, violation)


class StatusForm(forms.Form):
    """A status change: the new status and since when."""

    status = forms.ChoiceField(label="new status")
    status_since = forms.DateField(
        label="since",
        help_text="The day it resolved, was ruled out, went into remission or became active again.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, current: domain.DiagnosisStatus, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s.value, s.label) for s in domain.DiagnosisStatus if s is not current]


@admin.register(models.Diagnosis)
class DiagnosisAdmin(display.PatientColumnMixin, PatientPickerMixin, AuditedAdmin):
    form = DiagnosisForm
    access_category = "diagnoses"
    change_form_template = "admin/diagnoses/diagnosis/change_form.html"
    # Encrypted columns are shown through methods: a crafted ?o= must not sort ciphertext.
    list_display = ("entry", "patient_column", "diagnosis", "status", "status_since", "primary", "updated_at")
    list_filter = ("status", "is_primary")
    search_fields = ("=patient__mrn",)
    search_help_text = "The patient's MRN, exactly."
    ordering = ("-created_at",)
    autocomplete_fields = ("patient",)
    show_full_result_count = False  # a second count, of every diagnosis, on each page
    paginator = CappedCountPaginator
    add_fieldsets = (
        ("Diagnosis", {"fields": ("patient", "code", "specifier", "onset_date")}),
        (
            "Status",
            {
                "fields": ("status", "status_since", "is_primary"),
                "description": "Recorded as primary, it takes the place of the patient's primary diagnosis.",
            },
        ),
    )
    fieldsets = (
        ("Diagnosis", {"fields": ("patient", "code", "description", "specifier", "onset_date")}),
        ("Status", {"fields": ("status", "status_since", "is_primary")}),
        ("Record", {"classes": ("collapse",), "fields": (("created_by", "created_at"), ("updated_by", "updated_at"))}),
    )

    def get_queryset(self, request):
        # A clinician sees the diagnoses of the patients in their care (patients.policy).
        return policy.restrict(super().get_queryset(request), request.user)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            (title, options), *rest = self.add_fieldsets
            return [(title, {**options, "fields": (*options["fields"], "version")}), *rest]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is None:
            return readonly
        # What the diagnosis is stays; its status and primary flag move by their own steps.
        return (*readonly, "patient", "code", "description", "status", "status_since", "is_primary")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "code":
            kwargs["widget"] = CodeAutocompleteSelect(self.admin_site)
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)  # a patient the user may not see is dropped
        patient_id = parse_id(initial.get("patient"))
        if patient_id and not models.Diagnosis.objects.filter(patient_id=patient_id, is_primary=True).exists():
            initial["is_primary"] = True  # the first diagnosis of a list is its primary one, unless unticked
        return initial

    def save_model(self, request, obj, form, change):
        if change:
            # The page edits the details only, and so does a revert from the history page: the
            # status and the primary flag stay as stored (they move by their own steps).
            current = models.Diagnosis.objects.get(pk=obj.pk)
            details = dataclasses.replace(
                obj.to_domain(),
                status=domain.DiagnosisStatus(current.status),
                status_since=current.status_since,
                is_primary=current.is_primary,
            )
            stored = services.diagnosis_update(diagnosis=details, actor=request.user)
        else:
            stored = services.diagnosis_record(diagnosis=obj.to_domain(with_audit=False), actor=request.user)
        obj.pk = stored.id
        obj._state.adding = False
        obj.refresh_from_db()

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is not None:
            self._require_uuid(object_id)
            extra_context = {**(extra_context or {}), **self._steps(request, object_id)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    # --- columns ----------------------------------------------------------------------------

    @admin.display(description="entry")
    def entry(self, obj):
        return str(obj)

    @admin.display(description="diagnosis")
    def diagnosis(self, obj):
        return code_label(obj.code, obj.description)

    @admin.display(description="primary", boolean=True)
    def primary(self, obj):
        return obj.is_primary

    # --- the code-set search ----------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("code-autocomplete/", view(self.code_autocomplete_view), name=CODE_AUTOCOMPLETE),
            path("<path:object_id>/status/", view(self.status_view), name="diagnoses_diagnosis_status"),
            path(
                "<path:object_id>/make-primary/", view(self.make_primary_view), name="diagnoses_diagnosis_make_primary"
            ),
            *super().get_urls(),
        ]

    def code_autocomplete_view(self, request):
        """Answer Select2 with the billable codes matching `term`, a page at a time: the code set only."""
        if not request.user.has_perm(selectors.VIEW):
            raise PermissionDenied
        page = max(parse_count(request.GET.get("page", "")) or 1, 1)
        found = codeset.search(request.GET.get("term", ""), limit=page * PAGE_SIZE + 1)
        shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return JsonResponse(
            {
                "results": [{"id": code, "text": code_label(code, description)} for code, description in shown],
                "pagination": {"more": len(found) > page * PAGE_SIZE},
            }
        )

    # --- status and primary -----------------------------------------------------------------

    def _url(self, name, *args):
        return reverse(f"admin:diagnoses_diagnosis_{name}", args=args)

    def _visible(self, request, object_id) -> domain.Diagnosis | None:
        """Return the diagnosis if `request.user` may see it (the policy restricts get_queryset), else None."""
        row = self.get_queryset(request).select_related(*repository.RELATIONS).filter(pk=parse_id(object_id)).first()
        return row.to_domain() if row else None

    def _steps(self, request, object_id) -> dict:
        diagnosis = self._visible(request, object_id)
        if diagnosis is None or not self.has_change_permission(request):
            return {}
        return {
            "diagnosis": diagnosis,
            "status_url": self._url("status", diagnosis.id),
            "make_primary_url": self._url("make_primary", diagnosis.id)
            if diagnosis.is_current and not diagnosis.is_primary
            else None,
        }

    def _workflow_diagnosis(self, request, object_id) -> domain.Diagnosis:
        self._require_uuid(object_id)
        if not self.has_change_permission(request):
            raise PermissionDenied
        diagnosis = self._visible(request, object_id)
        if diagnosis is None:
            raise Http404("No such diagnosis.")
        return diagnosis

    def status_view(self, request, object_id):
        diagnosis = self._workflow_diagnosis(request, object_id)
        change_url = self._url("change", diagnosis.id)
        if request.method == "POST":
            form = StatusForm(request.POST, current=diagnosis.status)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    changed = services.diagnosis_set_status(
                        diagnosis_id=diagnosis.id,
                        status=domain.DiagnosisStatus(data["status"]),
                        on=data["status_since"],
                        version=data["version"],
                        actor=request.user,
                    )
                except AccessDenied as refusal:
                    raise PermissionDenied(str(refusal)) from None
                except RuleViolation as violation:
                    show_violation(form, violation, model=models.Diagnosis)
                except ConcurrencyError as error:
                    form.add_error(None, str(error))
                else:
                    self.message_user(
                        request, f"Diagnosis {changed.short_id}: now {changed.status.label.lower()}.", messages.SUCCESS
                    )
                    return HttpResponseRedirect(change_url)
        else:
            form = StatusForm(
                initial={"status_since": timezone.localdate(), "version": diagnosis.audit.version},
                current=diagnosis.status,
            )
        row = models.Diagnosis.objects.select_related("patient").get(pk=diagnosis.id)
        # The page shows the diagnosis: reading it is recorded like any other view of PHI.
        access.record(
            user=request.user,
            action="view (status form)",
            category=self.access_category,
            patient=row.patient,
            obj=row,
            request=request,
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Change the status of the diagnosis",
            "diagnosis": diagnosis,
            "form": form,
            "form_id": "status_form",
            "change_url": change_url,
            "submit_label": "Change status",
            "explanation": "A resolved or ruled-out diagnosis leaves the problem list (and stops being primary); "
            "it stays in the record. Resolving needs the date it resolved.",
        }
        return render(request, "admin/diagnoses/diagnosis/workflow_form.html", context)

    def make_primary_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        diagnosis = self._workflow_diagnosis(request, object_id)
        try:
            services.diagnosis_make_primary(
                diagnosis_id=diagnosis.id, version=parse_count(request.POST.get("version", "")), actor=request.user
            )
        except AccessDenied as refusal:
            raise PermissionDenied(str(refusal)) from None
        except DomainError as error:
            # Said without the code: the message travels in a cookie.
            self.message_user(
                request, f"Diagnosis {diagnosis.short_id} was not made primary: {_reason(error)}", messages.ERROR
            )
        else:
            self.message_user(
                request, f"Diagnosis {diagnosis.short_id} is now the primary diagnosis.", messages.SUCCESS
            )
        return HttpResponseRedirect(self._url("change", diagnosis.id))


def _reason(error: DomainError) -> str:
    if isinstance(error, RuleViolation):
        return " ".join(message for messages_ in error.errors.values() for message in messages_)
    return str(error)
