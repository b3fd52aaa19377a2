"""List actions report through AuditedAdmin.act_on_each: the changed rows together, each refusal alone."""

from django.contrib import admin, messages
from django.test import RequestFactory

from novamind.admin import AuditedAdmin
from novamind.domain import NotFound, RuleViolation
from novamind.models import StaffProfile


def reports(perform, rows, **options):
    shown = []
    model_admin = AuditedAdmin(StaffProfile, admin.site)
    model_admin.message_user = lambda request, message, level: shown.append((level, message))
    model_admin.act_on_each(RequestFactory().post("/"), rows, perform, **options)
    return shown


def refuse_odd(row):
    if row % 2:
        raise NotFound(f"no {row}")
    return row * 10


def test_the_changed_rows_are_reported_together_and_each_refusal_on_its_own():
    assert reports(refuse_odd, [1, 2, 3, 4], done="Done: {}.") == [
        (messages.SUCCESS, "Done: 2, 4."),
        (messages.ERROR, "1: no 1"),
        (messages.ERROR, "3: no 3"),
    ]


def test_names_results_and_refusals_can_be_told_in_the_apps_words():
    assert reports(
        refuse_odd,
        [1, 2],
        done="Changed: order {}.",
        name=lambda row: f"#{row}",
        shown=lambda row, result: f"#{row} ({result})",
        refused=lambda row, error: f"Not changed, #{row}: {error}",
    ) == [(messages.SUCCESS, "Changed: order #2 (20)."), (messages.ERROR, "Not changed, #1: no 1")]


def test_an_error_the_action_does_not_catch_is_not_reported_as_a_refusal():
    def violate(row):
        raise RuleViolation("no")

    try:
        reports(violate, [1], done="{}", catch=(NotFound,))
    except RuleViolation:
        pass
    else:
        raise AssertionError("the violation was swallowed")


def test_nothing_changed_reports_no_success():
    assert reports(refuse_odd, [1], done="Done: {}.") == [(messages.ERROR, "1: no 1")]
