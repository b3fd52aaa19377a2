"""The patient pages of the admin: exact search over encrypted details, no hard delete."""

import datetime as dt
import re

from django.contrib import admin, messages

from novamind.admin import AuditedAdmin
from novamind.domain import DomainError
from patients import domain, models, repository

_related_inlines: list = []


def register_patient_inline(inline_class):
    """Show `inline_class` on the patient page (appointments, medications and allergies use it)."""
    _related_inlines.append(inline_class)
    return inline_class


DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y")


def parse_search_term(term: str):
    """Return the blind-index query the search box means: MRN, date of birth, e-mail, phone or name."""
    term = " ".join(term.split())
    if domain.is_valid_mrn(term) or re.fullmatch(r"(?i)nm\d{8}", term):
        return {"mrn": term.upper()}
    for fmt in DATE_FORMATS:
        try:
            return {"date_of_birth": dt.datetime.strptime(term, fmt).date()}
        except ValueError:
            pass
    if "@" in term:
        return {"email": term}
    if re.fullmatch(r"[\d\s()+.\-]+", term) and len(re.sub(r"\D", "", term)) >= 7:
        return {"phone": term}
    return {"name": term}


@admin.register(models.Patient)
class PatientAdmin(AuditedAdmin):
    list_display = ("mrn", "name", "date_of_birth", "status", "updated_at")
    list_display_links = ("mrn", "name")
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    ordering = ("mrn",)
    # Encrypted columns cannot be searched with LIKE; get_search_results uses the blind indexes.
    search_fields = ("mrn",)
    search_help_text = (
        "Exact match, ignoring case and accents: MRN, full name (first last), last name, "
        "date of birth (YYYY-MM-DD or MM/DD/YYYY), phone or e-mail."
    )
    list_per_page = 100
    show_full_result_count = False
    readonly_fields = ("mrn", "status")
    actions = ("deactivate", "reactivate", "record_death")
    fieldsets = (
        ("Identity", {"fields": (
            "mrn", ("legal_first_name", "legal_last_name"), ("preferred_name", "pronouns"),
            "date_of_birth", ("sex_assigned_at_birth", "gender_identity"), "status",
        )}),
        ("Contact", {"fields": ("phone", "email")}),
        ("Address", {"fields": (
            "address_line1", "address_line2", ("address_city", "address_region"),
            ("address_postal_code", "address_country"),
        )}),
        ("Emergency contact", {"fields": (
            ("emergency_contact_name", "emergency_contact_relation"), "emergency_contact_phone",
        )}),
        ("Record", {"classes": ("collapse",), "fields": (
            ("created_by", "created_at"), ("updated_by", "updated_at"),
        )}),
    )

    @admin.display(description="name")
    def name(self, obj):
        return obj.to_domain(with_audit=False).display_name

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        criteria = parse_search_term(search_term)
        if "mrn" in criteria:
            return queryset.filter(mrn=criteria["mrn"]), False
        return queryset.filter(repository.search_query(**criteria)), False

    def get_inlines(self, request, obj):
        return [*self.inlines, *_related_inlines] if obj is not None else list(self.inlines)

    def _set_status(self, request, queryset, status, verb):
        patients = repository.DjangoPatientRepository(actor=request.user)
        done, failed = [], []
        for row in queryset:
            try:
                patients.set_status(row.pk, status)
                done.append(row.mrn)
            except DomainError as error:
                failed.append(f"{row.mrn}: {error}")
        if done:
            self.message_user(request, f"{verb}: {', '.join(done)}.", messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description="Deactivate selected patients (records are kept)", permissions=["change"])
    def deactivate(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.INACTIVE, "Deactivated")

    @admin.action(description="Reactivate selected patients", permissions=["change"])
    def reactivate(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.ACTIVE, "Reactivated")

    @admin.action(description="Record death of selected patients", permissions=["change"])
    def record_death(self, request, queryset):
        self._set_status(request, queryset, domain.PatientStatus.DECEASED, "Recorded as deceased")
