"""The audit report on the access log's admin page: the kernel's admin, with the report added from here.

The report reads several apps (clinic.audit_report), so it cannot live in the kernel; the
access-log admin is registered by novamind.admin and re-registered here with the report's URL
and button. The URL keeps its name, `admin:novamind_accesslogentry_report`.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from clinic import audit_report
from novamind import admin as novamind_admin
from novamind import models as novamind_models

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
