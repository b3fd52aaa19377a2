"""Rule violations and model errors on admin forms: next to their field, or above the form, labelled."""

import pytest
from django import forms
from django.core.exceptions import ValidationError

from novamind.admin import VersionedModelForm, show_violation
from novamind.domain import RuleViolation
from novamind.models import StaffProfile

pytestmark = pytest.mark.django_db


class ProfileForm(VersionedModelForm):
    class Meta:
        model = StaffProfile
        fields = ["credentials"]


def bound_form():
    form = ProfileForm(data={"credentials": "MD"})
    assert form.is_valid(), form.errors
    return form


def test_a_violation_shows_next_to_a_field_the_form_has_and_above_it_labelled_otherwise():
    form = bound_form()
    show_violation(form, RuleViolation({"credentials": ["Too long."], "dea_number": ["Missing."], "__all__": ["No."]}))
    assert form.errors["credentials"] == ["Too long."]
    assert form.non_field_errors() == ["DEA number: Missing.", "No."]


def test_a_rendered_message_is_shown_as_it_is_and_an_alias_moves_a_message_to_its_field():
    form = bound_form()
    show_violation(
        form,
        RuleViolation({"dea_number": ["Clash."], "title": ["Wrong."]}),
        render=lambda message: "<a>Clash.</a>" if message == "Clash." else message,
        aliases={"title": "credentials"},
    )
    assert form.non_field_errors() == ["<a>Clash.</a>"]
    assert form.errors["credentials"] == ["Wrong."]


def test_a_plain_form_labels_a_missing_field_by_the_model_it_is_given():
    form = forms.Form(data={})
    assert form.is_valid()
    show_violation(form, RuleViolation({"is_prescriber": ["Not allowed."]}), model=StaffProfile)
    assert form.non_field_errors() == ["Prescriber: Not allowed."]


def test_a_model_error_about_a_field_the_form_does_not_show_goes_above_the_form_labelled():
    form = bound_form()
    form.add_error(None, ValidationError({"dea_number": ["Missing."], "credentials": ["Too long."]}))
    assert form.errors["credentials"] == ["Too long."]
    assert form.non_field_errors() == ["DEA number: Missing."]
