"""The one write path for audited records: attribution, change reason, validation, save."""

from django.core.exceptions import ValidationError
from django.db import transaction

from novamind.domain import RuleViolation
from novamind.models import AnonymousWriteError


def require_actor(actor):
    """Return `actor` if it is a named, active user; raise AnonymousWriteError otherwise."""
    if actor is None or not getattr(actor, "is_authenticated", False) or actor.pk is None:
        raise AnonymousWriteError("Every write must be attributed to a named, signed-in user.")
    if not actor.is_active:
        raise AnonymousWriteError(f"User '{actor.get_username()}' is inactive and cannot write.")
    return actor


def audited_save(instance, *, actor, reason: str | None = None, validate: bool = True):
    """Validate and save `instance` as `actor`, recording `reason` in its history row."""
    require_actor(actor)
    with transaction.atomic():
        if validate:
            instance.full_clean()
        instance._actor = actor
        if reason:
            instance._change_reason = reason
        instance.save()
    return instance


def rule_violation(error: ValidationError) -> RuleViolation:
    """Return the RuleViolation that says what `error` says, field by field (others under NON_FIELD)."""
    errors = error.message_dict if hasattr(error, "error_dict") else {RuleViolation.NON_FIELD: error.messages}
    return RuleViolation(errors)


def checked_save(instance, *, actor, reason: str | None = None, validate: bool = True):
    """Save `instance` as audited_save does; a failed validation raises the domain's RuleViolation."""
    try:
        return audited_save(instance, actor=actor, reason=reason, validate=validate)
    except ValidationError as error:
        raise rule_violation(error) from None
