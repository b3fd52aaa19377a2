"""How a patient is named to staff: one label, on every page that shows a patient's record.

The label is the name staff address the patient by (the preferred name first: "Sam (Samantha)
Rivera"), the date of birth with the age, and the MRN. It is shown only to a user the access
policy lets see the patient (`patients.policy`: the role's `patients.view_patient`, then care);
anyone else — an auditor on the emergency-grant list, a supervisor opening one note only to
co-sign it — gets the MRN alone. Models' `__str__` stays the MRN (django_admin_log keeps it in
plaintext): the name is this module's business, never `__str__`'s.

A list names the patients of its page only, in one query whatever the page holds
(`labels_for`; `PatientColumnMixin` for an admin list), so no other row is decrypted. Nothing
here logs a name, and a label's repr holds none: the pages that show names write their own
access-log entry (a list's says how many patients it named).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from django.contrib import admin
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.utils import timezone
from django.utils.html import format_html

from novamind import access
from novamind.admin import SafeAutocompleteSelect
from novamind.domain import parse_id
from patients import models, policy

VIEW_PATIENT = "patients.view_patient"
# The columns a label reads: a list decrypts these of its page's patients, nothing else.
LABEL_FIELDS = ("id", "mrn", "legal_first_name", "legal_last_name", "preferred_name", "pronouns", "date_of_birth")


def full_name(*, first: str, last: str, preferred: str = "") -> str:
    """Return "Sam (Samantha) Rivera": the preferred name first, the legal first name after it if it differs."""
    given = first
    if preferred and preferred.strip().casefold() != (first or "").strip().casefold():
        given = f"{preferred} ({first})" if first else preferred
    return " ".join(part for part in (given, last) if part)


def age(date_of_birth: dt.date, today: dt.date) -> int:
    """Return the age in whole years on `today`."""
    before_birthday = (today.month, today.day) < (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - before_birthday


@dataclasses.dataclass(frozen=True)
class PatientLabel:
    """What identifies a patient on a page. `name` is empty when the viewer may see the MRN only.

    Its repr holds the id and MRN only, so a label in a traceback or a log line discloses nothing.
    """

    id: object
    mrn: str
    name: str = dataclasses.field(default="", repr=False)
    date_of_birth: dt.date | None = dataclasses.field(default=None, repr=False)
    pronouns: str = dataclasses.field(default="", repr=False)

    @classmethod
    def of(cls, patient) -> PatientLabel:
        """Return the full label of `patient` (a patients.models.Patient or a domain Patient)."""
        return cls(
            id=patient.id,
            mrn=patient.mrn,
            name=full_name(
                first=patient.legal_first_name or "",
                last=patient.legal_last_name or "",
                preferred=patient.preferred_name or "",
            ),
            date_of_birth=patient.date_of_birth,
            pronouns=patient.pronouns or "",
        )

    @property
    def named(self) -> bool:
        """Return whether the viewer may see more than the MRN."""
        return bool(self.name)

    def age(self, today: dt.date | None = None) -> int | None:
        """Return the age in years today (the clinic's day), if the date of birth is known."""
        if self.date_of_birth is None:
            return None
        return age(self.date_of_birth, today or timezone.localdate())

    def born(self, today: dt.date | None = None) -> str:
        """Return "1990-03-14 (35 y)", or "" for an MRN-only label."""
        if not self.named or self.date_of_birth is None:
            return ""
        return f"{self.date_of_birth.isoformat()} ({self.age(today)} y)"

    def text(self, today: dt.date | None = None) -> str:
        """Return "Sam (Samantha) Rivera, 1990-03-14 (35 y), NM12345678", or the MRN alone."""
        if not self.named:
            return self.mrn
        return ", ".join(part for part in (self.name, self.born(today), self.mrn) if part)

    def html(self):
        """Return the label for a table cell: the name, and under it the birth date, age and MRN."""
        if not self.named:
            return format_html('<span class="patient-label patient-mrn-only">{}</span>', self.mrn)
        return format_html(
            '<span class="patient-label"><span class="patient-name">{}</span><br>'
            '<span class="patient-details">{} · {}</span></span>',
            self.name,
            self.born(),
            self.mrn,
        )


def patient_label(patient) -> str:
    """Return the label of `patient` (a model or domain Patient) as one line of text.

    For a patient the viewer is allowed to see; where that is not known, use `labels_for`.
    """
    return PatientLabel.of(patient).text()


def may_read_names(user) -> bool:
    """Return whether `user`'s roles let them see patients' names at all (before care)."""
    return policy.may(user, VIEW_PATIENT)


def labels_for(user, patient_ids: Iterable) -> dict[object, PatientLabel]:
    """Return {patient id: label} for these patients as `user` may see them, in at most two queries.

    The patients `user` may see (the role, then care: `policy.visible_patients`) are named, their
    name fields decrypted; the others are labelled by their MRN alone, nothing of theirs decrypted.
    """
    ids = {parse_id(value) for value in patient_ids} - {None}
    if not ids:
        return {}
    labels = {}
    if may_read_names(user):
        rows = policy.visible_patients(user, models.Patient.objects.filter(pk__in=ids)).only(*LABEL_FIELDS)
        labels = {row.pk: PatientLabel.of(row) for row in rows}
    rest = ids - labels.keys()
    if rest:
        for pk, mrn in models.Patient.objects.filter(pk__in=rest).values_list("id", "mrn"):
            labels[pk] = PatientLabel(id=pk, mrn=mrn)
    return labels


# --- The admin: a list's patient column, the patient picker ------------------------------------


@dataclasses.dataclass(frozen=True)
class NamesShown:
    """What a list page showed of its patients, for its access-log entry."""

    named: int
    emergency: bool


NAMES_SHOWN = "_novamind_names_shown"  # the request attribute a list page leaves for its log entry


class PatientColumnMixin:
    """For an admin list of patients' records: a "patient" column naming each row's patient.

    The page's patients are read once, after the page is cut (`labels_for`), and each row keeps
    its label; the access-log entry of the page says how many patients it named, and is flagged
    `emergency` when one of them is seen only under an emergency grant. `patient_path` is the
    path from a row to its patient ("patient", or "note__patient").
    """

    patient_path = "patient"

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self.name_patients(request, changelist.result_list)  # the page, once it is cut
        return changelist

    def patient_id_of(self, row):
        """Return the id of the patient whose record `row` is."""
        *hops, last = self.patient_path.split("__")
        for hop in hops:
            row = getattr(row, hop)
        return getattr(row, f"{last}_id")

    def name_patients(self, request, rows) -> None:
        """Give each row of a list page its patient's label, read for the whole page at once."""
        ids = {self.patient_id_of(row) for row in rows}
        labels = labels_for(request.user, ids)
        for row in rows:
            row.shown_patient = labels.get(self.patient_id_of(row))
        named = [pk for pk, label in labels.items() if label.named]
        setattr(request, NAMES_SHOWN, NamesShown(len(named), policy.emergency_among(request.user, named)))

    @staticmethod
    def _shown(row) -> PatientLabel | None:
        return getattr(row, "shown_patient", None)

    @admin.display(description="patient")
    def patient_column(self, obj):
        label = self._shown(obj)
        if label is None:  # not on a list page (no label was read): the MRN, which the row's viewer may see
            return models.Patient.objects.filter(pk=self.patient_id_of(obj)).values_list("mrn", flat=True).first()
        return label.html()

    def access_list_detail(self, request, response) -> str:
        detail = super().access_list_detail(request, response)
        shown = getattr(request, NAMES_SHOWN, None)
        if shown is not None and shown.named:
            detail = f"{detail}, {shown.named} patient name(s) shown"
        return detail

    def log_access(self, request, action, obj=None, detail="", emergency=False):
        shown = getattr(request, NAMES_SHOWN, None)
        if obj is None and shown is not None:
            emergency = emergency or shown.emergency
        super().log_access(request, action, obj, detail, emergency=emergency)


AUTOCOMPLETE_URL = "patients_patient_autocomplete"


class PatientAutocompleteView(AutocompleteJsonView):
    """Django's autocomplete, each hit labelled with the patient's name, birth date and MRN.

    Only patients the user may see are found (PatientAdmin's queryset asks the policy), and the
    user holds the patients' view permission (Django checks it): every hit may be named. The
    search is written to the access log, as the patient list's is.
    """

    named = 0

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        access.record(
            user=request.user,
            action="search",
            category="demographics",
            request=request,
            detail=f"patient picker: {self.named} patient name(s) shown",
        )
        return response

    def get_queryset(self):
        # The hits are named: read the label's columns only.
        return super().get_queryset().only(*LABEL_FIELDS, "status")

    def serialize_result(self, obj, to_field_name):
        self.named += 1
        return {"id": str(getattr(obj, to_field_name)), "text": patient_label(obj)}


class PatientAutocompleteSelect(SafeAutocompleteSelect):
    """The patient picker: the kernel's autocomplete select, asking `PatientAutocompleteView`."""

    url_name = f"%s:{AUTOCOMPLETE_URL}"

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs.setdefault("data-width", "32em")  # Select2's option: wide enough for name, birth date and MRN
        return attrs


def name_choices(field) -> None:
    """Make a patient choice field (the picker) show each patient's label instead of the MRN.

    The field offers only patients the user may see (its queryset asks the policy).
    """
    field.label_from_instance = patient_label
