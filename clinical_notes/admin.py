"""The clinical-notes pages of the admin.

Drafts are edited by their author only; "Save and sign" makes a note final, after which it is
shown read-only and corrected by addenda. Workflow steps (addendum, co-signature, discard,
authorization) are buttons leading to small confirmation pages; every write (save_model, those
pages, the actions) calls `clinical_notes.services`, which asks the policy and the domain. Psychotherapy notes live in the same table but are kept apart: the default listing
and the patient page leave them out, "My psychotherapy notes" lists the user's own (and those
they are authorized to read), and every other way to a psychotherapy note (change page,
history, revert, workflow pages) is refused to anyone else, with the refusal logged.

Psychotherapy notes are not a proxy model with an admin of their own on purpose: with the
kernel's inherited history (HistoricalRecords(inherit=True)), a proxy gets a second history
table and saves through it skip the note's own history (django-simple-history #544).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from clinical_notes import domain, models, selectors, services
from diagnoses import domain as diagnoses_domain
from diagnoses import models as diagnoses_models
from diagnoses import selectors as diagnoses_selectors
from novamind import access
from novamind.admin import (
    AuditedAdmin,
    CappedCountPaginator,
    EncryptionAwareChangeList,
    ReadOnlyListingInline,
    VersionedModelForm,
    show_violation,
)
from novamind.domain import AccessDenied, ConcurrencyError, DomainError, NotFound, RuleViolation, parse_id
from patients import display, policy
from patients.admin import PatientPickerMixin, register_patient_inline

PSYCHOTHERAPY_LISTING = "psychotherapy"
QUEUE_TITLE = "Waiting for my co-signature"

# Links that apps above this one in the layers offer on a note's page (treatment plans: "Record
# progress on the plan"). Each takes the request and the note's summary and returns a tool
# ({"url", "label"}) or None; an app appends its own when its admin module loads.
NOTE_TOOLS_OF_OTHER_APPS: list = []
SIGNATURE_FIELDS = (
    "status",
    "signed_at",
    "signed_by",
    "late_entry",
    "content_hash",
    "cosign_requested_from",
    "cosign_requested_at",
    "cosigned_by",
    "cosigned_at",
)
STRUCTURED = ("subjective", "objective", "data", "assessment", "plan")


def _diagnosis_label(row: diagnoses_models.Diagnosis) -> str:
    diagnosis = row.to_domain(with_audit=False)
    status = (
        "" if diagnosis.status is diagnoses_domain.DiagnosisStatus.ACTIVE else f" ({diagnosis.status.label.lower()})"
    )
    return f"{diagnosis.label}{' — primary' if diagnosis.is_primary else ''}{status}"


class NoteForm(VersionedModelForm):
    """The note form: knows who edits it (the author of a new note) and whether they also sign.

    It offers the diagnoses of the patient's problem list (and those the note already addresses)
    to address; a new note starts with the primary diagnosis chosen, or the only current one.
    """

    editor = None
    signing = False
    diagnoses = forms.ModelMultipleChoiceField(
        label="Diagnoses addressed",
        queryset=diagnoses_models.Diagnosis.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    addressed = None  # the chosen diagnoses, once the form is clean; None where the form does not offer them

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance._state.adding and self.editor is not None:
            self.instance.author = self.editor
        if policy.may(self.editor, diagnoses_selectors.VIEW):
            self._offer_diagnoses(self.fields["diagnoses"])
        else:
            del self.fields["diagnoses"]  # not offered: the note keeps what it addresses

    def _patient_id(self):
        if self.is_bound:
            return parse_id(self.data.get(self.add_prefix("patient")))
        return parse_id(self.initial.get("patient") or self.instance.patient_id)

    def _offer_diagnoses(self, field) -> None:
        self.linked = frozenset(diagnosis.id for diagnosis in self.instance.addressed())
        patient_id = self._patient_id()
        rows = diagnoses_models.Diagnosis.objects.none()
        if patient_id is not None:
            current = [status.value for status in diagnoses_domain.CURRENT_STATUSES]
            rows = policy.restrict(
                diagnoses_models.Diagnosis.objects.filter(patient_id=patient_id).filter(
                    Q(status__in=current) | Q(pk__in=self.linked)
                ),
                self.editor,
            )
        field.queryset = rows
        field.label_from_instance = _diagnosis_label
        required = " A progress note is signed with at least one." if settings.NOVAMIND_SIGN_REQUIRES_DIAGNOSIS else ""
        field.help_text = (
            "From the patient's problem list (record a diagnosis from the patient banner)."
            f"{required} A psychotherapy note addresses none: a choice is ignored for it."
        )
        if self.linked:
            self.initial["diagnoses"] = sorted(self.linked, key=str)  # also when bound: what "changed" compares with
        elif self.instance._state.adding and not self.is_bound:
            # What clinicians expect: the primary diagnosis, or the only one on the list.
            offered = list(rows.only("id", "is_primary"))
            primary = [row.pk for row in offered if row.is_primary]
            self.initial["diagnoses"] = primary or ([offered[0].pk] if len(offered) == 1 else [])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == domain.NoteKind.PSYCHOTHERAPY_NOTE.value and cleaned.get("diagnoses"):
            cleaned["diagnoses"] = diagnoses_models.Diagnosis.objects.none()  # kept apart from the record
        return cleaned

    def _post_clean(self):
        super()._post_clean()
        note = self.instance.to_domain(with_audit=False)
        if "diagnoses" in self.fields and "diagnoses" in self.cleaned_data and not self.has_error("patient"):
            chosen = services.addressing(row.pk for row in self.cleaned_data["diagnoses"])
            try:
                note = services.addressed(
                    dataclasses.replace(note, diagnoses=chosen), actor=self.editor, before_ids=self.linked
                )
            except (RuleViolation, AccessDenied) as refusal:
                violation = (
                    refusal if isinstance(refusal, RuleViolation) else RuleViolation({"diagnoses": [str(refusal)]})
                )
                show_violation(self, violation)
            else:
                self.addressed = note.diagnoses
        if self.signing and not self.errors:
            # "Save and sign" must refuse before anything is saved, next to the empty section.
            now = timezone.now()
            try:
                note.signed(
                    signer=models.staff_of(self.editor),
                    at=now,
                    signed_on=timezone.localdate(now),
                    late_entry_days=settings.NOVAMIND_LATE_ENTRY_DAYS,
                    require_diagnosis=settings.NOVAMIND_SIGN_REQUIRES_DIAGNOSIS,
                )
            except RuleViolation as violation:
                show_violation(self, violation)


class ListingInline(ReadOnlyListingInline):
    """The kernel's read-only table of related rows, each of its fields shown as text."""

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class AddendumInline(ListingInline):
    model = models.Addendum
    fields = ("signed_at", "author", "reason", "text")
    verbose_name_plural = "addenda (each signed when added; they never change)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class AuthorizationInline(ListingInline):
    model = models.PsychotherapyNoteAuthorization
    fields = ("grantee", "granted_by", "created_at", "expires_at", "revoked_at", "revoked_by", "reason")
    verbose_name_plural = "who else may read this psychotherapy note"


@register_patient_inline
class PatientNoteInline(ListingInline):
    """The patient's clinical notes, without their text and without psychotherapy notes."""

    model = models.ClinicalNote
    fk_name = "patient"
    fields = ("note", "kind", "format", "date_of_service", "author", "status", "signed_at", "late_entry")
    verbose_name_plural = "clinical notes (psychotherapy notes are kept apart)"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .general()
            .without_text()
            .select_related("author")
            .order_by("-date_of_service", "-created_at")
        )

    @admin.display(description="note")
    def note(self, obj):
        url = reverse("admin:clinical_notes_clinicalnote_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, str(obj))


class RecordFilter(admin.SimpleListFilter):
    """Which listing: the clinical record (default) or the user's psychotherapy notes."""

    title = "listing"
    parameter_name = "record"

    def lookups(self, request, model_admin):
        return [(PSYCHOTHERAPY_LISTING, "My psychotherapy notes")]

    def choices(self, changelist):
        yield {
            "selected": self.value() != PSYCHOTHERAPY_LISTING,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Clinical record (without psychotherapy notes)",
        }
        yield {
            "selected": self.value() == PSYCHOTHERAPY_LISTING,
            "query_string": changelist.get_query_string({self.parameter_name: PSYCHOTHERAPY_LISTING}),
            "display": "My psychotherapy notes",
        }

    def queryset(self, request, queryset):
        if self.value() == PSYCHOTHERAPY_LISTING:
            return queryset.psychotherapy_readable_by(request.user)
        return queryset.general()


class NoteChangeList(EncryptionAwareChangeList):
    def get_queryset(self, request, exclude_parameters=None):
        # Lists never show text: leave the encrypted columns unread.
        return super().get_queryset(request, exclude_parameters).without_text()


class AddendumForm(forms.Form):
    text = forms.CharField(
        label="Addendum",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        strip=False,
        help_text="Signed in your name when you add it; it can never be changed afterwards.",
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text="Why the note needs an addendum, e.g. a correction or late information.",
    )


class CosignatureRequestForm(forms.Form):
    cosign_requested_from = forms.ModelChoiceField(
        label="Supervisor",
        queryset=get_user_model().objects.none(),
        help_text="A supervisor who is not on the patient's care team may then open this note, and "
        "only this note, until they co-sign it or you withdraw the request.",
    )

    def __init__(self, *args, author_id, **kwargs):
        super().__init__(*args, **kwargs)
        # Every active supervisor (role and profile) but the author: the request itself lets the
        # one chosen open this note (clinical_notes.domain.read_decision), in the care team or not.
        self.fields["cosign_requested_from"].queryset = (
            get_user_model()
            .objects.with_perm(models.COSIGN_PERMISSION, backend="django.contrib.auth.backends.ModelBackend")
            .filter(staff_profile__is_supervisor=True)
            .exclude(pk=author_id)
            .order_by("username")
        )


class AuthorizationForm(forms.Form):
    grantee = forms.ModelChoiceField(label="Who may read it", queryset=get_user_model().objects.none())
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why this person needs the note, e.g. the patient's signed authorization.",
    )
    days = forms.IntegerField(
        label="Valid for (days)",
        min_value=1,
        max_value=domain.AUTHORIZATION_MAX_DAYS,
        initial=7,
        help_text=f"At most {domain.AUTHORIZATION_MAX_DAYS} days.",
    )

    def __init__(self, *args, exclude_ids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["grantee"].queryset = (
            get_user_model()
            .objects.filter(is_active=True, is_staff=True)
            .exclude(pk__in=exclude_ids)
            .order_by("username")
        )


class ConfirmForm(forms.Form):
    """Nothing to fill in: the page asks for a confirming POST."""


@admin.register(models.ClinicalNote)
class ClinicalNoteAdmin(display.PatientColumnMixin, PatientPickerMixin, AuditedAdmin):
    form = NoteForm
    change_form_template = "admin/clinical_notes/clinicalnote/change_form.html"
    list_display = (
        "__str__",
        "patient_column",
        "kind",
        "date_of_service",
        "author",
        "status",
        "signed_at",
        "late_entry",
        "cosignature",
    )
    list_filter = (RecordFilter, "status", "kind", "late_entry", ("date_of_service", admin.DateFieldListFilter))
    search_fields = ("=patient__mrn",)
    search_help_text = "The patient's MRN, exactly."
    autocomplete_fields = ("patient",)
    ordering = ("-date_of_service", "-created_at")
    list_per_page = 100
    show_full_result_count = False
    paginator = CappedCountPaginator  # an exact count would read every note the user may see
    readonly_fields = ("author", *SIGNATURE_FIELDS)
    actions = ("sign_selected", "discard_selected")

    # --- what a user may see and change -------------------------------------------------

    def get_queryset(self, request):
        # The notes of the user's patients, and those waiting for their co-signature: so the
        # change and history pages open for the supervisor who was asked (which steps they may
        # take there is `_guard`'s question, by action).
        return (
            selectors.openable(super().get_queryset(request), request.user)
            .readable_by(request.user)
            .select_related("author", "signed_by", "cosign_requested_from", "cosigned_by")
            .with_patient_mrn()
        )

    def get_changelist(self, request, **kwargs):
        return NoteChangeList

    def _stored(self, pk) -> models.ClinicalNote | None:
        # Deciding access needs no text: a refused reader's request decrypts nothing.
        return (
            models.ClinicalNote._base_manager.select_related("author__staff_profile")
            .defer(*domain.SECTIONS)
            .filter(pk=pk)
            .first()
        )

    def edit_refusal(self, request, obj) -> str | None:
        """Return why the user may not edit `obj` as it is stored now, or None."""
        stored = self._stored(obj.pk)
        if stored is None:
            return None
        return domain.edit_refusal(stored.to_summary(), models.staff_of(request.user))

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed or obj.pk is None:
            return allowed
        return self.edit_refusal(request, obj) is None

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and obj.pk is not None and self.edit_refusal(request, obj):
            # Also on the history page, whose form shows an older (perhaps draft) version.
            return (*readonly, *flatten_fieldsets(self.get_fieldsets(request, obj)))
        return readonly

    def revert_disabled(self, request, obj=None):
        if obj is not None and self.edit_refusal(request, obj):
            return True
        return super().revert_disabled(request, obj)

    def get_fieldsets(self, request, obj=None):
        # The supervisor asked to co-sign, outside the patient's care, sees the MRN, not a link
        # to a patient page that would refuse them.
        patient = "patient_mrn" if getattr(request, "_novamind_cosigning_only", False) else "patient"
        refused = obj is not None and obj.pk is not None and self.edit_refusal(request, obj)
        diagnoses = ("diagnoses_addressed" if refused else "diagnoses",) if self._shows_diagnoses(request) else ()
        note = ("Note", {"fields": (patient, ("kind", "format"), "date_of_service", *diagnoses, "author")})
        if refused:
            used = domain.SECTIONS_BY_FORMAT[domain.NoteFormat(obj.format)]
            sections = [(f"{domain.NoteFormat(obj.format).label} note", {"fields": used})]
        else:
            sections = [
                ("Free text", {"fields": ("body",), "description": "For a free-text note."}),
                (
                    "Structured",
                    {
                        "fields": STRUCTURED,
                        "description": "SOAP uses subjective, objective, assessment and plan; "
                        "DAP uses data, assessment and plan.",
                    },
                ),
            ]
        fieldsets = [note, *sections]
        if obj is not None and obj.pk is not None:
            fieldsets.append(("Signature", {"fields": SIGNATURE_FIELDS}))
            fieldsets.append(
                (
                    "Record",
                    {
                        "classes": ("collapse",),
                        "fields": (
                            ("created_by", "created_at"),
                            ("updated_by", "updated_at"),
                            "version",
                        ),
                    },
                )
            )
        return fieldsets

    @staticmethod
    def _shows_diagnoses(request) -> bool:
        # The supervisor asked to co-sign sees what they co-sign, the diagnoses included.
        return policy.may(request.user, diagnoses_selectors.VIEW) or getattr(request, "_novamind_cosigning_only", False)

    @admin.display(description="diagnoses addressed")
    def diagnoses_addressed(self, obj):
        rows = diagnoses_models.Diagnosis.objects.filter(note_links__note=obj).order_by("-is_primary", "created_at")
        labels = [(row.to_domain(with_audit=False).label,) for row in rows]
        return format_html_join(mark_safe("<br>"), "{}", labels) if labels else "—"  # noqa: S308 - a constant

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        attributes = {"editor": request.user, "signing": request.method == "POST" and "_sign" in request.POST}
        return type(form.__name__, (form,), attributes)

    def get_inlines(self, request, obj):
        if obj is None:
            return []
        inlines = [AddendumInline] if obj.status == domain.NoteStatus.SIGNED.value else []
        if obj.kind == models.PSYCHOTHERAPY:
            inlines.append(AuthorizationInline)
        return inlines

    # --- list columns ---------------------------------------------------------------------

    @admin.display(description="patient", ordering="patient__mrn")
    def patient_mrn(self, obj):
        return getattr(obj, "patient_mrn", None) or obj.patient.mrn

    @admin.display(description="co-signature")
    def cosignature(self, obj):
        if obj.cosigned_by_id:
            return f"co-signed by {obj.cosigned_by.get_username()}"
        if obj.cosign_requested_from_id:
            return f"requested from {obj.cosign_requested_from.get_username()}"
        return "—"

    # --- views: every way to a note passes the access check first ----------------------------

    def _guard(self, request, object_id, action):
        """Record the access to the note; return a refusing redirect if the user may not read it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied  # a role without notes (novamind.roles); the refusal is logged
        row = self._stored(_uuid_or_404(object_id))
        decision = (
            None if row is None else selectors.note_access(row=row, user=request.user, action=action, request=request)
        )
        if decision is None or decision.outside_care:
            # Outside the user's care the note does not exist for them, on every page (patients.policy),
            # unless they are the supervisor asked to co-sign it and `action` is one they may take.
            raise Http404("No clinical note with that ID.")
        # The page then offers nothing of the patient's record: no addendum, no link to the patient.
        request._novamind_cosigning_only = decision.for_cosignature
        if decision.allowed:
            return row, None
        self.message_user(request, selectors.REFUSAL_MESSAGE, messages.ERROR)
        return row, HttpResponseRedirect(reverse("admin:clinical_notes_clinicalnote_changelist"))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return self._note_changeform_view(request, object_id, form_url, extra_context)
        except AccessDenied as error:
            raise PermissionDenied(str(error)) from None  # the transaction of the page rolled back
        except RuleViolation as violation:
            self._report(request, violation)
            return HttpResponseRedirect(request.get_full_path())

    def _report(self, request, violation: RuleViolation) -> None:
        for field_messages in violation.errors.values():
            for message in field_messages:
                self.message_user(request, message, messages.ERROR)

    def _note_changeform_view(self, request, object_id, form_url, extra_context):
        if object_id is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        row, refused = self._guard(request, object_id, "read" if request.method == "GET" else "update")
        if refused:
            return refused
        if request.method == "POST":
            refusal = domain.edit_refusal(row.to_summary(), models.staff_of(request.user))
            if refusal:
                # Refused before any form is bound: nothing of the request is written.
                self.message_user(request, refusal, messages.ERROR)
                return HttpResponseRedirect(request.path)
        context = {**self._note_context(request, row), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, context)

    def add_view(self, request, form_url="", extra_context=None):
        context = {"can_sign": True, **(extra_context or {})}
        return super().add_view(request, form_url, context)

    def history_view(self, request, object_id, extra_context=None):
        _, refused = self._guard(request, object_id, "history")
        return refused or super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        row, refused = self._guard(request, object_id, "history" if request.method == "GET" else "revert")
        if refused:
            return refused
        if request.method == "POST":
            refusal = domain.edit_refusal(row.to_summary(), models.staff_of(request.user))
            if refusal is None and not super().has_change_permission(request, row):
                refusal = "You may view notes but not change them."
            if refusal:
                self.message_user(request, f"This version cannot be restored. {refusal}", messages.ERROR)
                return HttpResponseRedirect(reverse("admin:clinical_notes_clinicalnote_history", args=[row.pk]))
        try:
            return super().history_form_view(request, object_id, version_id, extra_context)
        except AccessDenied as error:
            raise PermissionDenied(str(error)) from None  # the revert's transaction rolled back
        except RuleViolation as violation:
            self._report(request, violation)
            return HttpResponseRedirect(request.get_full_path())

    def changelist_view(self, request, extra_context=None):
        if request.user.has_perm(models.COSIGN_PERMISSION):
            queue = reverse("admin:clinical_notes_clinicalnote_cosignature_queue")
            extra_context = {"cosignature_queue_url": queue, **(extra_context or {})}
        if request.GET.get(RecordFilter.parameter_name) == PSYCHOTHERAPY_LISTING:
            selectors.psychotherapy_listing(
                user=request.user,
                patient_id=parse_id(request.GET.get("patient__id__exact")),
                request=request,
            )
        return super().changelist_view(request, extra_context)

    def _note_context(self, request, row) -> dict:
        user = models.staff_of(request.user)
        note = row.to_summary()
        is_author = user.id == row.author_id
        tools = []

        def tool(name, label):
            tools.append({"url": reverse(f"admin:clinical_notes_clinicalnote_{name}", args=[row.pk]), "label": label})

        cosigning_only = getattr(request, "_novamind_cosigning_only", False)
        if (
            note.is_signed
            and user.is_clinician
            and (is_author or not note.is_psychotherapy_note)
            and not cosigning_only
        ):
            tool("addendum", "Add addendum")
        pending = row.cosign_requested_from_id is not None and row.cosigned_by_id is None
        if is_author and note.is_signed and not note.is_psychotherapy_note and row.cosign_requested_from_id is None:
            tool("request_cosignature", "Request co-signature")
        if is_author and pending:
            tool("withdraw_cosignature", "Withdraw co-signature request")
        if note.is_signed and pending and row.cosign_requested_from_id == user.id:
            tool("cosign", "Co-sign")
        if not note.is_signed and is_author:
            tool("discard", "Discard draft")
        if note.is_psychotherapy_note and note.is_signed and (is_author or user.is_superuser):
            tool("authorize", "Authorize a reader")
        if not cosigning_only:
            tools.extend(filter(None, (offer(request, note) for offer in NOTE_TOOLS_OF_OTHER_APPS)))
        if request.user.has_perm(models.COSIGN_PERMISSION):
            tools.append({"url": reverse("admin:clinical_notes_clinicalnote_cosignature_queue"), "label": QUEUE_TITLE})
        return {
            "note_tools": tools,
            "can_sign": not note.is_signed and is_author,
            "is_psychotherapy_note": note.is_psychotherapy_note,
        }

    # --- saving and signing ----------------------------------------------------------------

    def changes_nothing(self, request, form, change):
        # "Save and sign" on an unchanged draft still signs it.
        return not getattr(form, "signing", False) and super().changes_nothing(request, form, change)

    def save_model(self, request, obj, form, change):
        # The services decide and write; the form has already shown the domain's errors next to
        # the fields. A refusal here (the policy changed since the form was checked) rolls the
        # page's transaction back (changeform_view): nothing of the request is kept.
        reverting = getattr(request, "_novamind_reverting", False)
        if not change:
            note = obj.to_domain(with_audit=False, diagnoses=form.addressed or ())
            stored = services.note_create(note=note, actor=request.user, request=request)
        elif form.has_changed() or not form.signing:
            reason = "Restored an earlier version" if reverting else "Draft changed"
            stored = services.note_update_draft(
                note=obj.to_domain(diagnoses=form.addressed), actor=request.user, reason=reason, request=request
            )
        else:
            stored = None
        if form.signing:
            services.note_sign(note_id=stored.id if stored else obj.pk, actor=request.user, request=request)
        if stored is not None:
            obj.pk = stored.id
        obj._state.adding = False
        obj.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        if "_sign" in request.POST:
            return self.return_to_next(request, self._signed_response(request, obj))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_sign" in request.POST:
            return self._signed_response(request, obj)
        return super().response_change(request, obj)

    def _signed_response(self, request, obj):
        late = " It is flagged as a late entry." if obj.late_entry else ""
        self.message_user(
            request,
            f"{obj} is signed and can no longer be changed; correct it with an addendum.{late}",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:clinical_notes_clinicalnote_change", args=[obj.pk]))

    # --- actions ---------------------------------------------------------------------------

    @admin.action(description="Sign selected drafts (yours; they become final)", permissions=["change"])
    def sign_selected(self, request, queryset):
        self.act_on_each(
            request,
            queryset.without_text(),
            lambda row: services.note_sign(note_id=row.pk, actor=request.user, request=request),
            done="Signed: {}.",
        )

    @admin.action(description="Discard selected drafts (yours; kept in history)", permissions=["change"])
    def discard_selected(self, request, queryset):
        self.act_on_each(
            request,
            queryset.without_text(),
            lambda row: services.note_discard(note_id=row.pk, actor=request.user, request=request),
            done="Discarded: {}.",
        )

    # --- workflow pages --------------------------------------------------------------------

    def get_urls(self):
        def view(name, function):
            return path(
                f"<path:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(function),
                name=f"clinical_notes_clinicalnote_{name}",
            )

        return [
            path(
                "cosignature-queue/",
                self.admin_site.admin_view(self.cosignature_queue_view),
                name="clinical_notes_clinicalnote_cosignature_queue",
            ),
            view("addendum", self.addendum_view),
            view("request_cosignature", self.request_cosignature_view),
            view("withdraw_cosignature", self.withdraw_cosignature_view),
            view("cosign", self.cosign_view),
            view("discard", self.discard_view),
            view("authorize", self.authorize_view),
            *super().get_urls(),
        ]

    def _workflow(
        self,
        request,
        object_id,
        *,
        action,
        title,
        explanation,
        form_class,
        submit,
        perform,
        form_kwargs=None,
        success_url=None,
        permission=None,
    ):
        """Render a small confirmation form for one workflow step and perform it on POST.

        The step needs the change permission on notes, or the one `permission` it names.
        """
        if not (request.user.has_perm(permission) if permission else self.has_change_permission(request)):
            raise PermissionDenied
        row, refused = self._guard(request, object_id, action)
        if refused:
            return refused
        change_url = reverse("admin:clinical_notes_clinicalnote_change", args=[row.pk])
        form = form_class(request.POST if request.method == "POST" else None, **(form_kwargs or {}))
        if request.method == "POST" and form.is_valid():
            try:
                message = perform(row, form.cleaned_data)
            except RuleViolation as violation:
                show_violation(form, violation)
            except (ConcurrencyError, NotFound, AccessDenied) as error:
                self.message_user(request, str(error), messages.ERROR)
                return HttpResponseRedirect(change_url)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(success_url or change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "object": row,
            "title": title,
            "explanation": explanation,
            "form": form,
            "submit_label": submit,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/clinical_notes/workflow_form.html", context)

    def addendum_view(self, request, object_id):
        def perform(row, data):
            services.addendum_add(
                note_id=row.pk, text=data["text"], reason=data["reason"], actor=request.user, request=request
            )
            return "Addendum added and signed."

        return self._workflow(
            request,
            object_id,
            action="add addendum",
            title="Add an addendum",
            explanation="A signed note never changes. An addendum adds to it or corrects it, with "
            "its reason; it is signed in your name when you add it and can never be changed.",
            form_class=AddendumForm,
            submit="Add and sign addendum",
            perform=perform,
        )

    def request_cosignature_view(self, request, object_id):
        def perform(row, data):
            supervisor = data["cosign_requested_from"]
            services.cosignature_request(
                note_id=row.pk, supervisor_id=supervisor.pk, actor=request.user, request=request
            )
            return f"Co-signature requested from {supervisor.get_username()}."

        row = self._stored(_uuid_or_404(object_id))
        return self._workflow(
            request,
            object_id,
            action="request co-signature",
            title="Request a co-signature",
            explanation="Ask a supervisor to review and co-sign this note.",
            form_class=CosignatureRequestForm,
            form_kwargs={"author_id": row.author_id if row else None},
            submit="Request co-signature",
            perform=perform,
        )

    def withdraw_cosignature_view(self, request, object_id):
        def perform(row, data):
            services.cosignature_withdraw(note_id=row.pk, actor=request.user, request=request)
            return "Co-signature request withdrawn."

        return self._workflow(
            request,
            object_id,
            action="withdraw co-signature",
            title="Withdraw the co-signature request",
            explanation="The supervisor you asked will no longer find this note in their queue, nor "
            "open it unless they are on the patient's care team. You can then ask someone else.",
            form_class=ConfirmForm,
            submit="Withdraw request",
            perform=perform,
        )

    def cosign_view(self, request, object_id):
        def perform(row, data):
            services.note_cosign(note_id=row.pk, actor=request.user, request=request)
            return "Note co-signed."

        return self._workflow(
            request,
            object_id,
            action="co-sign",
            title="Co-sign this note",
            explanation="You are co-signing as the supervisor who was asked to review this note.",
            form_class=ConfirmForm,
            submit="Co-sign",
            perform=perform,
            permission=models.COSIGN_PERMISSION,
            # On to the next note; a supervisor outside the patient's care could not open this one again.
            success_url=reverse("admin:clinical_notes_clinicalnote_cosignature_queue"),
        )

    def cosignature_queue_view(self, request):
        """List the notes waiting for the user's co-signature (selectors.notes_awaiting_cosignature)."""
        if not request.user.has_perm(models.COSIGN_PERMISSION):
            self.log_refusal(request, "co-signature queue")
            raise PermissionDenied
        with transaction.atomic():
            queue = selectors.notes_awaiting_cosignature(supervisor=request.user)
            access.record(
                user=request.user,
                action="list",
                category=selectors.CLINICAL_CATEGORY,
                request=request,
                detail=f"co-signature queue: {len(queue.notes)} of {queue.total} note(s), without their text",
            )
        rows = [
            {
                "note": item,
                "change_url": reverse("admin:clinical_notes_clinicalnote_change", args=[item.note_id]),
                "cosign_url": reverse("admin:clinical_notes_clinicalnote_cosign", args=[item.note_id]),
            }
            for item in queue.notes
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": QUEUE_TITLE,
            "queue": queue,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/clinical_notes/clinicalnote/cosignature_queue.html", context)

    def discard_view(self, request, object_id):
        def perform(row, data):
            services.note_discard(note_id=row.pk, actor=request.user, request=request)
            return "Draft discarded (its history is kept)."

        return self._workflow(
            request,
            object_id,
            action="discard",
            title="Discard this draft",
            explanation="The draft is removed from the record; its history is kept. Signed notes "
            "can never be discarded.",
            form_class=ConfirmForm,
            submit="Discard draft",
            perform=perform,
            success_url=reverse("admin:clinical_notes_clinicalnote_changelist"),
        )

    def authorize_view(self, request, object_id):
        def perform(row, data):
            services.authorization_grant(
                note_id=row.pk,
                grantee=data["grantee"],
                reason=data["reason"],
                expires_at=timezone.now() + dt.timedelta(days=data["days"]),
                actor=request.user,
                request=request,
            )
            return f"{data['grantee'].get_username()} may read this note for {data['days']} day(s)."

        row = self._stored(_uuid_or_404(object_id))
        return self._workflow(
            request,
            object_id,
            action="authorize",
            title="Authorize someone to read this psychotherapy note",
            explanation="Psychotherapy notes are private to their author. An authorization lets one "
            "other person read this note for a limited time; every read is logged.",
            form_class=AuthorizationForm,
            form_kwargs={"exclude_ids": [row.author_id, request.user.pk] if row else [request.user.pk]},
            submit="Grant access",
            perform=perform,
        )


@admin.register(models.PsychotherapyNoteAuthorization)
class PsychotherapyNoteAuthorizationAdmin(display.PatientColumnMixin, AuditedAdmin):
    """The authorizations a user granted, received or (as privacy officer) oversees; revocable."""

    patient_path = "note__patient"
    list_display = (
        "__str__",
        "note",
        "patient_column",
        "grantee",
        "granted_by",
        "created_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = (("expires_at", admin.DateFieldListFilter), "revoked_at")
    fields = ("note", "grantee", "granted_by", "reason", "expires_at", "revoked_at", "revoked_by")
    readonly_fields = fields
    actions = ("revoke_selected",)

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("note", "grantee", "granted_by", "revoked_by")
        if request.user.is_superuser:
            return rows
        user = request.user
        return rows.filter(Q(grantee=user) | Q(granted_by=user) | Q(note__author=user))

    def has_add_permission(self, request):
        return False  # granted from the note's page, where the note is known and checked

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request)  # the revoke action only

    def revert_disabled(self, request, obj=None):
        return True

    def history_view(self, request, object_id, extra_context=None):
        self._require_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_visible(request, object_id)
        if request.method == "POST":
            # An authorization is granted once and revoked once; an old version is never restored.
            self.message_user(
                request, "Authorizations cannot be restored to an earlier version; grant a new one.", messages.ERROR
            )
            return HttpResponseRedirect(request.path)
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _require_visible(self, request, object_id):
        # The history pages would otherwise fall back to the history table for rows this
        # user's listing does not include.
        if not self.get_queryset(request).filter(pk=_uuid_or_404(object_id)).exists():
            raise Http404("No authorization with that ID.")

    @admin.action(description="Revoke selected authorizations now", permissions=["change"])
    def revoke_selected(self, request, queryset):
        for grant in queryset:
            try:
                services.authorization_revoke(authorization_id=grant.pk, actor=request.user, request=request)
                self.message_user(request, f"{grant} revoked.", messages.SUCCESS)
            except DomainError as error:
                self.message_user(request, f"{grant}: {error}", messages.ERROR)


def _uuid_or_404(value):
    parsed = parse_id(value)
    if parsed is None:
        raise Http404("No clinical note with that ID.")
    return parsed
