"""The admin base for audited records: attributed saves, stale-edit refusal, no hard delete.

Also the access log (read-only, with the audit report) and staff accounts (roles as groups).
"""

import functools
import types

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import capfirst
from simple_history.admin import SimpleHistoryAdmin

from novamind import access, domain, encryption, middleware, models, staff

AUDIT_FIELDS = ("created_by", "created_at", "updated_by", "updated_at")


def describe_conflict(instance, seen_version: int) -> str:
    """Return who changed `instance` since `seen_version`, and which fields, without values."""
    history = type(instance).history.filter(id=instance.pk)
    newer = list(history.filter(version__gt=seen_version).select_related("history_user"))
    seen = history.filter(version=seen_version).first()
    latest = history.first()
    who = sorted({record.history_user.get_username() for record in newer if record.history_user})
    changed = []
    if seen is not None and latest is not None and latest.pk != seen.pk:
        excluded = ["version", "updated_by", "updated_at", *instance.blind_indexes()]
        delta = latest.diff_against(seen, excluded_fields=excluded)
        changed = [str(type(instance)._meta.get_field(name).verbose_name) for name in delta.changed_fields]
    when = timezone.localtime(latest.history_date).strftime("%Y-%m-%d %H:%M") if latest else "?"
    return (
        f"Someone else saved this {type(instance)._meta.verbose_name} while you were editing it "
        f"({', '.join(who) or 'another user'}, last at {when}; changed: "
        f"{', '.join(changed) or 'status or audit fields'}). Your changes were not saved. Reload "
        f"the page to see the current record, then apply your changes again."
    )


def field_label(form, field: str, model=None) -> str:
    """Return the name staff know `field` by: its verbose name on the form's model (else `model`)."""
    model = getattr(getattr(form, "_meta", None), "model", None) or model
    try:
        return capfirst(str(model._meta.get_field(field).verbose_name))
    except Exception:  # noqa: BLE001 - any unknown name (or no model) is shown as it is
        return capfirst(field.replace("_", " "))


def show_violation(form, violation: domain.RuleViolation, *, render=None, aliases=None, model=None) -> None:
    """Show each message of `violation` next to its field on `form`, or above the form.

    A message about a field the form does not show goes above it, prefixed by the field's label.
    `render(message)` may return the message dressed (a link to the record it names), and that
    one is shown as it is; `aliases` maps a rule's field to the form field that shows it.
    """
    aliases = aliases or {}
    for field, messages_ in violation.errors.items():
        field = aliases.get(field, field)
        target = field if field in form.fields else None
        for message in messages_:
            shown = render(message) if render is not None else message
            if target is None and field not in (domain.RuleViolation.NON_FIELD, None) and shown is message:
                shown = f"{field_label(form, field, model)}: {message}"
            form.add_error(target, shown)


class VersionedModelForm(forms.ModelForm):
    """A model form that carries the version it was loaded at and refuses a stale save."""

    # The fields that already failed in the form ("Enter a valid date."), while the model validates.
    _failed_in_form: frozenset = frozenset()

    def _post_clean(self):
        # Django leaves a field that failed in the form out of the model's field validation, but
        # Model.clean() runs on the whole record and finds that field empty: its "This field is
        # required." under "Enter a valid date." would be about a value nobody typed.
        self._failed_in_form = frozenset(name for name in self._errors if name != NON_FIELD_ERRORS)
        try:
            super()._post_clean()
        finally:
            self._failed_in_form = frozenset()

    def add_error(self, field, error):
        # The model's rules may speak of fields this form does not show, or shows read-only (the
        # author, the signature, the status on a revert): those errors go above the form,
        # prefixed by the field's label, instead of Django failing on a field it cannot find.
        if field is None and isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            shown = {}
            for name, errors in error.error_dict.items():
                if name in self._failed_in_form:
                    continue
                if name in self.fields or name == NON_FIELD_ERRORS:
                    shown.setdefault(name, []).extend(errors)
                else:
                    shown.setdefault(NON_FIELD_ERRORS, []).extend(
                        f"{field_label(self, name)}: {message}" for message in ValidationError(errors).messages
                    )
            error = ValidationError(shown)
        super().add_error(field, error)

    def clean(self):
        cleaned = super().clean()
        seen = cleaned.get("version")
        if self.instance.pk is None or self.instance._state.adding or seen is None:
            return cleaned
        current = (
            type(self.instance)._base_manager.filter(pk=self.instance.pk).values_list("version", flat=True).first()
        )
        if current is not None and current != seen:
            raise ValidationError(describe_conflict(self.instance, seen), code="stale")
        return cleaned


def next_url(request, data=None) -> str | None:
    """Return the page a form was opened from (`next` in `data`, default the query string), if it is a page of this site; else None.

    A link that opens a form for one patient (the patient banner's actions) or a button that
    returns to the page it sits on (the index's "Check in") names the page to return to; an
    address elsewhere, or on another scheme, is ignored (no open redirect).
    """
    target = (request.GET if data is None else data).get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def is_encrypted_column(model, name: str) -> bool:
    """Return whether the list column `name` of `model` is an encrypted model field."""
    try:
        encryption.check_orderable(model, [name])
    except encryption.EncryptedFieldQueryError:
        return True
    return False


class EncryptionAwareChangeList(ChangeList):
    """A changelist that never sorts by an encrypted column (the database would sort ciphertext).

    Django honours `?o=N` for any column that is a model field, whatever `sortable_by` says, so a
    hand-written URL could ask for an ordering the encrypted-field guard refuses: that column is
    left out of the ordering instead.
    """

    def get_ordering_field(self, field_name):
        order_field = super().get_ordering_field(field_name)
        if isinstance(order_field, str) and is_encrypted_column(self.model, order_field):
            return None
        return order_field


class CappedCountPaginator(Paginator):
    """A list's paginator that counts at most `cap` rows; past it, the page says "more than".

    An exact count reads every row the list may show (PostgreSQL keeps no count of a filtered
    table), so on a large table the count costs more than the page. Counting a LIMITed
    subquery stops at `cap` rows whatever the table's size; the pages past it are reached by
    filtering or searching, not by paging. `capped` says whether there were more.
    """

    cap = 1000
    capped = False

    @cached_property
    def count(self):
        # Which rows are counted does not matter, only how many: no ORDER BY to honour.
        counted = self.object_list.order_by()[: self.cap + 1].count()
        self.capped = counted > self.cap
        return min(counted, self.cap)


class SafeAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, re-rendering a posted value that is not an id without a 500.

    To show the selected option Django looks the posted value up in the related table; a value
    its key column cannot hold ("abc" for a UUID) raised there, after the form had already put
    "Select a valid choice" next to the field. Such a value selects nothing instead.
    """

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        value = [item for item in value if item in ("", None) or middleware.is_value_of(target, str(item))]
        return super().optgroups(name, value, attr)


class RefusalLoggingMixin:
    """Record in the access log every refusal of the admin's own pages for lack of permission.

    A role reaching a page it does not have (a guessed URL included) gets 403 and an access-log
    entry with the outcome "refused", naming the record and its patient where the URL names one.
    """

    access_category = "demographics"
    REFUSED_ACTIONS = {"changelist": "list", "add": "add", "change": "view", "history": "history", "delete": "delete"}

    def get_urls(self):
        urls = super().get_urls()
        for pattern in urls:
            page = (pattern.name or "").rsplit("_", 1)[-1]
            if page in self.REFUSED_ACTIONS:
                pattern.callback = self._logging_refusals(pattern.callback, self.REFUSED_ACTIONS[page])
        return urls

    def _logging_refusals(self, view, action):
        @functools.wraps(view)
        def logged(request, *args, **kwargs):
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied:
                self.log_refusal(request, action, kwargs.get("object_id"))
                raise

        return logged

    def log_refusal(self, request, action, object_id=None):
        """Append a refused access-log entry: `request.user` may not `action` this model (or record)."""
        record, patient = None, None
        pk = domain.parse_id(object_id) if object_id else None
        if pk is not None:
            record = types.SimpleNamespace(_meta=self.model._meta, pk=pk)  # named, not read
            names = {field.name for field in self.model._meta.concrete_fields}
            if self.model._meta.label == "patients.Patient":
                found = self.model._base_manager.filter(pk=pk).values_list("id", "mrn").first()
            elif "patient" in names:
                found = self.model._base_manager.filter(pk=pk).values_list("patient_id", "patient__mrn").first()
            else:
                found = None
            if found is not None:
                patient = access.PatientRef(*found)
        access.record(
            user=request.user,
            action=action,
            category=self.access_category,
            patient=patient,
            obj=record,
            request=request,
            outcome=access.REFUSED,
            detail="no permission for this page",
        )


def _unless_nothing_changed(save_model):
    """Wrap an admin's save_model so a change form posted back as it was shown writes nothing."""

    @functools.wraps(save_model)
    def save(self, request, obj, form, change):
        if self.changes_nothing(request, form, change):
            request._novamind_form_unchanged = True
            return None
        return save_model(self, request, obj, form, change)

    return save


class AuditedAdmin(RefusalLoggingMixin, SimpleHistoryAdmin):
    """Admin for an AuditedModel: each app's admin saves through its services, as the user.

    Every page that shows PHI (a record, its history, a list or a search) appends one entry to
    the access log, in the transaction that read the data; a page refused for lack of
    permission appends a refused entry.

    A change form saved without a change writes nothing: no version, no history row, no "last
    changed", no admin-log entry. Each subclass's `save_model` is wrapped for it when the class
    is defined, so no app's admin has to remember; `changes_nothing` says what "no change" is.
    """

    form = VersionedModelForm
    formfield_overrides = {}
    history_list_display = ["version"]
    # simple_history's, with the trail of the record's other pages (app, list, record, history).
    object_history_form_template = "admin/novamind/object_history_form.html"
    # The category of data this admin shows, for the access log (ASTM E2147 "type of data").
    access_category = "demographics"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "save_model" in vars(cls):
            cls.save_model = _unless_nothing_changed(vars(cls)["save_model"])

    def changes_nothing(self, request, form, change) -> bool:
        """Return whether saving `form` would change nothing of the record, so nothing is to be written.

        A revert from the history page is always written: its form starts from the old version,
        so "unchanged" there means "restore it". An admin whose change form also takes a step
        (sign, say) narrows this.
        """
        return change and not getattr(request, "_novamind_reverting", False) and not form.has_changed()

    def log_change(self, request, obj, message):
        if getattr(request, "_novamind_form_unchanged", False) and not message:
            # Neither the record nor a row on its page (an inline) changed: nothing was written.
            request._novamind_nothing_saved = True
            return None
        return super().log_change(request, obj, message)

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_novamind_nothing_saved", False) and level == messages.SUCCESS:
            # Django's "… was changed successfully." would claim a write that did not happen.
            message, level = "No changes to save: the record is as it was, and nothing was written.", messages.INFO
        return super().message_user(request, message, level, *args, **kwargs)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # simple_history's hook on the page of history entries, before it is shown: an entry
        # written without a reason shows "—" under "Change reason", not the word "None".
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        for record in historical_records:
            if not record.history_change_reason:
                record.history_change_reason = "—"

    def get_changelist(self, request, **kwargs):
        return EncryptionAwareChangeList

    def get_sortable_by(self, request):
        """Column headers of encrypted fields are not offered as sort links."""
        return [
            name
            for name in super().get_sortable_by(request)
            if not (isinstance(name, str) and is_encrypted_column(self.model, name))
        ]

    def access_patient(self, obj):
        """Return the patient whose data `obj` is (the access log names them)."""
        if obj is None:
            return None
        return obj if obj._meta.label == "patients.Patient" else getattr(obj, "patient", None)

    def log_access(self, request, action, obj=None, detail="", emergency=False):
        """Append one access-log entry for what `request.user` is being shown.

        `emergency` flags an entry about no one patient (a list) that showed a patient the user
        sees only under an emergency grant; for one patient the access policy decides it.
        """
        access.record(
            user=request.user,
            action=action,
            category=self.access_category,
            patient=self.access_patient(obj),
            obj=obj,
            request=request,
            detail=detail,
            emergency=emergency,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and not add:
            self.log_access(request, "view" if request.method == "GET" else "view after edit", obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def changelist_view(self, request, extra_context=None):
        with transaction.atomic():
            response = super().changelist_view(request, extra_context)
            if request.method == "GET" and getattr(response, "status_code", None) == 200:
                searched = bool(request.GET.get("q", "").strip())
                self.log_access(
                    request, "search" if searched else "list", detail=self.access_list_detail(request, response)
                )
        return response

    def access_list_detail(self, request, response) -> str:
        """Return what a list or search showed, without PHI: how many rows, which page."""
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is None:
            return ""
        more = "more than " if getattr(changelist.paginator, "capped", False) else ""
        return f"{more}{changelist.result_count} result(s), page {changelist.page_num}"

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *AUDIT_FIELDS)

    def response_add(self, request, obj, post_url_continue=None):
        return self.return_to_next(request, super().response_add(request, obj, post_url_continue))

    def return_to_next(self, request, response):
        """Send a "Save" back to the page the form was opened from (`next_url`), if one was named.

        "Save and continue editing" and "Save and add another" keep their meaning.
        """
        target = next_url(request)
        staying = any(name in request.POST for name in ("_continue", "_addanother", "_saveasnew", IS_POPUP_VAR))
        if target and not staying and isinstance(response, HttpResponseRedirect):
            response["Location"] = target
        return response

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        named = {name for _, options in fieldsets for name in admin.utils.flatten(options["fields"])}
        if "version" not in named:
            title, options = fieldsets[0]
            fieldsets[0] = (title, {**options, "fields": (*options["fields"], "version")})
        return fieldsets

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        # The version a form was loaded at travels hidden, for the stale-edit check: never a field
        # staff can edit. Set here, not on the form class: an admin that subclasses its form per
        # request (to hand it the user) builds its fields again from this hook.
        if db_field.name == "version":
            kwargs["widget"] = forms.HiddenInput()
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and getattr(request, "_novamind_reverting", False):
            # Reverting loads a historical copy, with that copy's version; the revert is a
            # normal edit of the current record, so it is checked against the current version.
            obj.version = (
                type(obj)._base_manager.filter(pk=obj.pk).values_list("version", flat=True).first() or obj.version
            )
        return form

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # The admin is a caller like any other: each app's admin saves through its services,
        # which ask the policy. A new admin that forgets to say which fails here, loudly.
        raise ImproperlyConfigured(
            f"{type(self).__name__} has no save_model of its own: write through the app's services."
        )

    def act_on_each(
        self, request, rows, perform, *, done, name=str, shown=None, refused=None, catch=(domain.DomainError,), log=None
    ):
        """Call `perform(row)` (a service) for each row; report the rows it changed together, each refusal alone.

        `done` is the success message with `{}` for the changed rows' names: `name(row)`, or
        `shown(row, result)` when the name tells what `perform` returned. A refusal (an error in
        `catch`) reads `refused(row, error)`, by default "<name>: <error>". With `log`, each
        change is also written to the admin's log under that message.
        """
        succeeded, failed = [], []
        for row in rows:
            try:
                result = perform(row)
            except catch as error:
                failed.append(refused(row, error) if refused is not None else f"{name(row)}: {error}")
            else:
                if log is not None:
                    self.log_change(request, row, log)
                succeeded.append(shown(row, result) if shown is not None else name(row))
        if succeeded:
            self.message_user(request, done.format(", ".join(succeeded)), messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        # Clinical records are retained: records are deactivated, never deleted, on any path.
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (domain.AccessDenied, domain.RuleViolation) as refusal:
            # A service refused what the form allowed: the patient's care team, the user's rights
            # or the record changed between the form's check and the write. The transaction
            # rolled back, so nothing was written. A rule's details may name a drug or a
            # diagnosis and messages travel in a cookie, so only the policy's reason is shown.
            if request.method != "POST":
                if isinstance(refusal, domain.AccessDenied):
                    raise PermissionDenied from None
                raise
            self.message_user(request, self.refusal_message(refusal), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        except domain.ConcurrencyError as error:
            # Saved by someone else between our form check and our UPDATE: the transaction
            # rolled back, so nothing of this request was written.
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def refusal_message(self, refusal: domain.DomainError) -> str:
        """Return the message for a posted form a service refused (no PHI: it travels in a cookie)."""
        reason = f" {refusal}" if isinstance(refusal, domain.AccessDenied) else ""
        return (
            "Nothing was saved: the record or your access to it changed while you were writing."
            f"{reason} Check the entry and save it again."
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(f"No {opts.verbose_name} with ID “{object_id}”.")

    def history_view(self, request, object_id, extra_context=None):
        self._require_uuid(object_id)
        self._require_in_care(request, object_id)
        with transaction.atomic():
            response = super().history_view(request, object_id, extra_context)
            obj = self.model._base_manager.filter(pk=object_id).first()
            self.log_access(request, "history", obj)
        return response

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._require_uuid(object_id)
        if domain.parse_count(str(version_id)) is None:
            raise Http404("No such history entry.")
        self._require_in_care(request, object_id)
        if request.method == "POST" and not self.has_change_permission(
            request, self.model._base_manager.filter(pk=object_id).first()
        ):
            # simple_history saves a revert for anyone who may view the history; a revert is a
            # change, so it needs the change permission on this record.
            raise PermissionDenied
        request._novamind_reverting = True
        try:
            with transaction.atomic():
                response = super().history_form_view(request, object_id, version_id, extra_context)
                if request.method == "GET":
                    obj = self.model._base_manager.filter(pk=object_id).first()
                    self.log_access(request, "history version", obj, detail=f"history entry {version_id}")
            return response
        except domain.AccessDenied:
            raise PermissionDenied from None
        except domain.ConcurrencyError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _require_in_care(self, request, object_id):
        # simple_history shows a record's history even when get_queryset hides the record; what
        # the access policy hides from the user's lists (every app's get_queryset asks it) must
        # stay hidden there too.
        if not self.get_queryset(request).filter(pk=object_id).exists():
            raise Http404("No record with that ID.")

    @staticmethod
    def _require_uuid(object_id):
        if domain.parse_id(object_id) is None:
            raise Http404("No record with that ID.")


class ListingFormSet(forms.BaseInlineFormSet):
    """A read-only listing: it never takes input, so the parent form posts nothing for it."""

    def __init__(self, data=None, files=None, **kwargs):
        super().__init__(None, None, **kwargs)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []

    def is_valid(self):
        return True

    def save(self, commit=True):
        return []


class ReadOnlyListingInline(admin.TabularInline):
    """Rows shown on another record's page (the patient's): listed there, changed on their own pages."""

    formset = ListingFormSet
    template = "admin/edit_inline/listing.html"
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StaffProfileForm(VersionedModelForm):
    """A staff profile; a change the user may not make (novamind.staff) is an error next to its field."""

    actor = None  # set per request by StaffProfileAdmin.get_form

    def _post_clean(self):
        super()._post_clean()
        for name, problem in staff.profile_problems(actor=self.actor, profile=self.instance).items():
            self.add_error(name if name in self.fields else None, problem)


@admin.register(models.StaffProfile)
class StaffProfileAdmin(AuditedAdmin):
    """Staff profiles. The qualification is a superuser's to change (novamind.staff); a practice
    admin edits the credentials of non-clinical staff and sees the others read-only."""

    form = StaffProfileForm
    list_display = ("user", "credentials", "is_clinician", "is_prescriber", "is_supervisor", "must_change_password")
    list_filter = ("is_clinician", "is_prescriber", "is_supervisor")
    search_fields = ("user__username", "user__last_name")
    autocomplete_fields = ("user",)
    fields = ("user", "credentials", "is_clinician", "is_prescriber", "is_supervisor", "dea_number")

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly
        return (*readonly, *(name for name in staff.QUALIFICATION_FIELDS if name != "user" or obj is not None))

    def has_change_permission(self, request, obj=None):
        if obj is not None and not request.user.is_superuser and staff.needs_superuser(obj.user):
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        staff.staff_profile_save(profile=obj, actor=request.user, request=request)

    def set_history_delta_changes(self, request, historical_records, foreign_keys_are_objs=True):
        # simple_history's hook on the page of history entries, before it is shown. Each entry is
        # labelled str() of the profile as it was, which names its user: read the page's users at
        # once rather than one query per entry.
        super().set_history_delta_changes(request, historical_records, foreign_keys_are_objs)
        users = get_user_model().objects.in_bulk({record.user_id for record in historical_records})
        for record in historical_records:
            if record.user_id in users:
                profile = record.history_object  # a new instance at each access: keep this one
                profile.user = users[record.user_id]
                record.history_object = profile


# --- Staff accounts and roles ---------------------------------------------------------------


@admin.register(models.AccessLogEntry)
class AccessLogEntryAdmin(RefusalLoggingMixin, admin.ModelAdmin):
    """The read-access log, read-only for everyone (clinic.admin adds the audit report to it)."""

    access_category = "access log"
    list_display = (
        "sequence",
        "occurred_at",
        "username",
        "patient_mrn",
        "action",
        "category",
        "outcome",
        "source_address",
        "emergency",
    )
    list_filter = ("outcome", "emergency", "category", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("=username", "=patient_mrn")
    search_help_text = "A username or a patient's MRN, exactly."
    ordering = ("-sequence",)
    list_per_page = 100
    show_full_result_count = False
    # Every field is editable=False, so a view-only form would show none of them: the page lists
    # them all as read-only fields.
    fieldsets = (
        (None, {"fields": ("occurred_at", "who", "action", "outcome", "category", "emergency_shown", "detail")}),
        ("Whose data", {"fields": ("patient_mrn", "record")}),
        ("From where", {"fields": ("source_address",)}),
        ("Chain", {"fields": ("sequence", "previous_digest", "digest", "chain")}),
    )
    readonly_fields = tuple(name for _, options in fieldsets for name in options["fields"])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # append-only: on PostgreSQL the database refuses it too

    @admin.display(description="who")
    def who(self, entry):
        """Return the username the entry recorded, and the account's name today."""
        name = entry.user.get_full_name() if entry.user is not None else ""
        return f"{entry.username} ({name})" if name else entry.username

    @admin.display(description="emergency access")
    def emergency_shown(self, entry):
        return "yes: made under an emergency access grant" if entry.emergency else "no"

    @admin.display(description="record")
    def record(self, entry):
        """Return the record read, by its kind and id (no link: an auditor may not open it)."""
        if not entry.object_type:
            return "—"
        try:
            kind = apps.get_model(entry.object_type)._meta.verbose_name
        except (LookupError, ValueError):
            return f"{entry.object_id} ({entry.object_type})"
        return f"{kind} {entry.object_id} ({entry.object_type})"

    @admin.display(description="chain")
    def chain(self, entry):
        """Return whether the entry is as written and follows the entry before it."""
        problems = access.entry_problems(entry)
        if problems:
            return "Broken: " + "; ".join(problems) + ". Run verify_audit to check the whole log."
        after = f" and follows entry #{entry.sequence - 1}" if entry.sequence > 1 else " (the first entry)"
        return f"Intact: its digest matches its content{after}."

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(get_user_model())


@admin.register(get_user_model())
class StaffUserAdmin(UserAdmin):
    """Staff accounts. Roles are given as groups (novamind.roles); changes of them are audited.

    Only a superuser grants superuser status or permissions outside the roles, or changes a
    superuser's account (its password included): a practice administrator cannot make
    themself, or anyone, more than the roles allow.
    """

    list_display = ("username", "first_name", "last_name", "is_active", "is_staff", "roles")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")

    @admin.display(description="roles")
    def roles(self, obj):
        return ", ".join(group.name for group in obj.groups.all()) or "—"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly
        return (*readonly, "is_superuser", "user_permissions")

    def has_delete_permission(self, request, obj=None):
        # A staff account is deactivated, never deleted: its name stays on every record and
        # history row it wrote, and on PostgreSQL the history tables are append-only for the
        # application role (deleting a user would rewrite their history rows' user).
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form  # the add page asks for a username and a password only
        return type(form.__name__, (StaffAccountFormMixin, form), {"actor": request.user, "request": request})

    def save_related(self, request, form, formsets, change):
        # Roles go through the one write path (novamind.staff), which checks and audits them.
        groups = form.cleaned_data.pop("groups", None)
        super().save_related(request, form, formsets, change)
        if groups is not None:
            staff.staff_roles_set(user=form.instance, roles=groups, actor=request.user, request=request)

    def user_change_password(self, request, id, form_url=""):
        """Reset another user's password through novamind.staff; one's own is changed on "Change password"."""
        user = self.get_object(request, unquote(id))
        if user is not None and user.pk == request.user.pk:
            return HttpResponseRedirect(reverse("admin:password_change"))
        if user is not None and self.has_change_permission(request, user):
            problem = staff.password_reset_problem(actor=request.user, user=user)
            if problem:
                staff.record_refusal(
                    actor=request.user, user=user, action=staff.PASSWORD_RESET, problems=[problem], request=request
                )
                raise PermissionDenied(problem)
            if request.method == "POST":
                form = self.change_password_form(user, request.POST)
                # Invalid or conflicting input is Django's to show (the view below, unchanged).
                usable = form.is_valid() and form.cleaned_data["set_usable_password"]
                if form.is_valid() and (usable or "unset-password" in request.POST):
                    staff.staff_password_reset(
                        user=user,
                        actor=request.user,
                        password=form.cleaned_data["password1"] if usable else None,
                        request=request,
                    )
                    self.log_change(request, user, "Reset the password.")
                    self.message_user(
                        request,
                        "Password reset. At the next sign-in they must choose a new password and enrol "
                        "two-factor login again.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:auth_user_change", args=[user.pk]))
        return super().user_change_password(request, id, form_url)


class StaffAccountFormMixin:
    """The user change form under the staff rule (novamind.staff): refused changes are field errors.

    The groups widget offers only the roles the signed-in user may give (and those the account
    already holds); a forged choice is refused by name next to the field, and nothing is saved.
    """

    actor = None
    request = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("groups")
        if field is not None:
            held = set(self.instance.groups.values_list("pk", flat=True))
            assignable = staff.assignable_roles(actor=self.actor, user=self.instance)
            choices = [
                (group.pk, group.name)
                for group in Group.objects.order_by("name")
                if group.pk in held or group.name in assignable
            ]
            widget = field.widget
            widget.choices = choices
            if hasattr(widget, "widget"):  # the admin's related-object wrapper
                widget.widget.choices = choices

    def clean_groups(self):
        groups = self.cleaned_data["groups"]
        wanted = {group.name for group in groups}
        held = set(self.instance.groups.values_list("name", flat=True))
        problems = staff.role_change_problems(
            actor=self.actor, user=self.instance, added=wanted - held, removed=held - wanted
        )
        if problems:
            staff.record_refusal(
                actor=self.actor, user=self.instance, action=staff.ROLE_CHANGE, problems=problems, request=self.request
            )
            raise ValidationError(problems)
        return groups

    def clean(self):
        cleaned = super().clean()
        changed = [name for name in (*staff.ACCOUNT_FLAGS, "user_permissions") if name in self.changed_data]
        problems = staff.account_flag_problems(actor=self.actor, user=self.instance, changed=changed)
        for name, problem in problems.items():
            self.add_error(name, problem)
        if problems:
            staff.record_refusal(
                actor=self.actor,
                user=self.instance,
                action=staff.ACCOUNT_CHANGE,
                problems=problems.values(),
                request=self.request,
            )
        return cleaned
