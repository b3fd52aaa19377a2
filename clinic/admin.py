"""The admin pages of the features that read several apps: the audit report and the record export.

The report reads several apps (clinic.audit_report), so it cannot live in the kernel; the
access-log admin is registered by novamind.admin and re-registered here with the report's URL
and button. The URL keeps its name, `admin:novamind_accesslogentry_report`.

The patient's copy of their record (clinic.record_export) is an action of the patient list,
offered from here through `patients.admin.register_patient_action`: the same export as the
command's, in every format it writes (JSON, HTML, and the FHIR Bundle the fhir app registers).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from clinic import audit_report, record_export
from novamind import admin as novamind_admin
from novamind import encryption
from novamind import models as novamind_models
from novamind.domain import AccessDenied
from patients import admin as patients_admin
from patients import repository as patients_repository

admin.site.unregister(novamind_models.AccessLogEntry)


@admin.register(novamind_models.AccessLogEntry)
class AccessLogEntryAdmin(novamind_admin.AccessLogEntryAdmin):
    """The read-access log, read-only for everyone; auditors download the audit report here."""

    change_list_template = "admin/novamind/accesslogentry/change_list.html"

    def get_urls(self):
        return [
            path("report/", self.admin_site.admin_view(self.report_view), name="novamind_accesslogentry_report"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        context = {"may_report": audit_report.may_run(request.user), **(extra_context or {})}
        return super().changelist_view(request, context)

    def report_view(self, request):
        """Show the report form; on a valid POST, download the CSV (recorded in the access log)."""
        if not audit_report.may_run(request.user):
            self.log_refusal(request, audit_report.ACTION)
            raise PermissionDenied
        form = AuditReportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            scope = form.cleaned_data["scope"]
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{scope.filename()}"'
            audit_report.run(scope=scope, actor=request.user, out=response, request=request)
            return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": "Audit report",
            "columns": audit_report.COLUMNS,
        }
        return TemplateResponse(request, "admin/novamind/accesslogentry/audit_report.html", context)


class AuditReportForm(forms.Form):
    """Whose report (a patient or a user) and over which days."""

    patient = forms.CharField(
        label="Patient MRN",
        required=False,
        max_length=12,
        help_text="The patient's medical record number; or give a user instead.",
    )
    username = forms.CharField(
        label="User",
        required=False,
        max_length=150,
        help_text="A username: what they changed and accessed, and changes of their roles.",
    )
    date_from = forms.DateField(label="From", required=False, help_text="First day, included (YYYY-MM-DD).")
    date_to = forms.DateField(label="To", required=False, help_text="Last day, included (YYYY-MM-DD).")

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            cleaned["scope"] = audit_report.scope_for(
                patient_mrn=cleaned.get("patient"),
                username=cleaned.get("username"),
                date_from=cleaned.get("date_from"),
                date_to=cleaned.get("date_to"),
            )
        except audit_report.ReportError as error:
            raise ValidationError(str(error)) from None
        return cleaned


FORMAT_LABELS = {
    "json": "JSON (machine-readable, schema novamind.patient_record)",
    "html": "HTML (a page to read and print)",
    "fhir": "FHIR R4 Bundle (for another health record system)",
}


class RecordExportForm(forms.Form):
    """The format of the copy."""

    format = forms.ChoiceField(label="Format", widget=forms.RadioSelect, help_text="The copy contains PHI.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["format"].choices = [(name, FORMAT_LABELS.get(name, name)) for name in record_export.formats()]


@patients_admin.register_patient_action
@admin.action(description="Export the record (right of access)…", permissions=["view"])
def export_record(modeladmin, request, queryset):
    """Ask for the format, then download one patient's copy; the export decides access and logs the disclosure."""
    rows = list(queryset[:2])
    if len(rows) != 1:
        modeladmin.message_user(request, "Choose one patient to export the record of.", messages.ERROR)
        return None
    row = rows[0]
    form = RecordExportForm(request.POST if "apply" in request.POST else None)
    if "apply" in request.POST and form.is_valid():
        format = form.cleaned_data["format"]
        try:
            record_export.require_may_export(request.user, row.pk)
            patient = patients_repository.DjangoPatientRepository(actor=request.user).get_by_id(row.pk)
            media_type, extension = record_export.MEDIA[format]
            response = HttpResponse(content_type=media_type)
            response["Content-Disposition"] = f'attachment; filename="{row.mrn}-record.{extension}"'
            record_export.export(patient=patient, actor=request.user, format=format, out=response)
        except AccessDenied as refusal:
            modeladmin.message_user(request, f"Not exported. {refusal}", messages.ERROR)
            return None
        except encryption.DecryptionError:
            modeladmin.message_user(
                request,
                f"Not exported: part of the record of {row.mrn} does not decrypt with the current key. "
                "Run verify_notes and check FIELD_ENCRYPTION_KEY.",
                messages.ERROR,
            )
            return None
        return response
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": "Export the record",
        "form": form,
        "patient": row,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/clinic/export_record.html", context)
