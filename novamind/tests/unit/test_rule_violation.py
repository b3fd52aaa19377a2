from django.core.exceptions import ValidationError

from novamind import audit
from novamind.domain import RuleViolation


def test_a_validation_error_about_fields_becomes_a_rule_violation_about_the_same_fields():
    violation = audit.rule_violation(ValidationError({"start": ["Too early."], "end": ["Too late."]}))
    assert isinstance(violation, RuleViolation)
    assert violation.errors == {"start": ["Too early."], "end": ["Too late."]}


def test_a_validation_error_about_no_field_goes_above_the_form():
    violation = audit.rule_violation(ValidationError("Nothing fits."))
    assert violation.errors == {RuleViolation.NON_FIELD: ["Nothing fits."]}
