"""Staff accounts: who may give which role, reset whose password, change whose qualifications.

The rule is written here once and every path asks it: the admin's user and staff-profile forms
and its password page, the m2m signal of User.groups (novamind.signals), and the commands.

- Only a superuser assigns or removes a clinical role (Clinician, Prescriber, Supervisor) or
  Auditor; a practice admin assigns and removes Front desk and Practice admin only.
- Nobody changes their own roles, nor their own superuser, staff or active flags (another
  administrator must do it), superusers included.
- The staff profile's qualification (clinician, prescriber, supervisor, DEA number, whose
  profile it is) is changed only by a superuser, never on their own profile; a practice admin
  edits the credentials text of non-clinical staff at most.
- A practice admin resets the password of non-clinical staff only; nobody resets their own
  (they change it on "Change password", which asks for the current one). A reset removes the
  user's authenticator apps and recovery codes and marks the profile "must change password":
  the next sign-in goes to the password change, then to a new two-factor enrolment.

Changes and refusals are written to the access log (category "roles"), never with a password.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from novamind import access, audit, roles
from novamind.models import StaffProfile

CATEGORY = "roles"
ROLE_CHANGE = "role change"
ACCOUNT_CHANGE = "account change"
PASSWORD_RESET = "password reset"
PASSWORD_CHANGED = "password changed"
PROFILE_CHANGE = "staff profile change"

CLINICAL_ROLES = frozenset({roles.CLINICIAN, roles.PRESCRIBER, roles.SUPERVISOR})
SUPERUSER_ONLY_ROLES = CLINICAL_ROLES | {roles.AUDITOR}
PRACTICE_ADMIN_ROLES = frozenset({roles.FRONT_DESK, roles.PRACTICE_ADMIN})
ACCOUNT_FLAGS = ("is_superuser", "is_staff", "is_active")
# Whose profile it is and what it says they are qualified for.
QUALIFICATION_FIELDS = ("user", "is_clinician", "is_prescriber", "is_supervisor", "dea_number")

_actor: contextvars.ContextVar = contextvars.ContextVar("novamind_role_actor", default=None)


class StaffChangeRefused(PermissionDenied):
    """The actor may not make this change to this staff account."""


@contextlib.contextmanager
def changed_by(actor):
    """Attribute the role changes made inside the block to `actor` (outside a request)."""
    token = _actor.set(audit.require_actor(actor))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor():
    """Return the actor given to `changed_by()`, or None."""
    return _actor.get()


def _same(actor, user) -> bool:
    return actor.pk is not None and actor.pk == user.pk


def manages_accounts(actor) -> bool:
    """Return whether `actor` manages staff accounts at all (a superuser or a practice admin)."""
    return actor.is_superuser or actor.has_perm("auth.change_user")


def needs_superuser(user) -> bool:
    """Return whether only a superuser may act on `user`: a superuser, clinical staff or an auditor."""
    if user.is_superuser:
        return True
    if user.pk is None:
        return False
    if user.groups.filter(name__in=SUPERUSER_ONLY_ROLES).exists():
        return True
    profile = StaffProfile.objects.filter(user=user).values("is_clinician", "is_prescriber", "is_supervisor").first()
    return bool(profile and any(profile.values()))


def role_problem(*, actor, user, role: str, adding: bool) -> str | None:
    """Return why `actor` may not give `user` the role `role` (or take it away), or None."""
    verb = "assign" if adding else "remove"
    if _same(actor, user):
        return f"You cannot {verb} the role {role}: nobody changes their own roles; ask another administrator."
    if actor.is_superuser:
        return None
    if user.is_superuser:
        return f"You cannot {verb} the role {role}: only a superuser changes a superuser's account."
    if not manages_accounts(actor):
        return f"You cannot {verb} the role {role}: you do not manage staff accounts."
    if role not in PRACTICE_ADMIN_ROLES:
        return f"You cannot {verb} the role {role}: only a superuser does."
    return None


def role_change_problems(*, actor, user, added: Iterable[str] = (), removed: Iterable[str] = ()) -> list[str]:
    """Return the reasons `actor` may not add `added` to and remove `removed` from `user`'s roles."""
    problems = [role_problem(actor=actor, user=user, role=name, adding=True) for name in sorted(added)]
    problems += [role_problem(actor=actor, user=user, role=name, adding=False) for name in sorted(removed)]
    return [problem for problem in problems if problem]


def record_refusal(*, actor, user, action: str, problems: Iterable[str], request=None) -> None:
    """Append a refused access-log entry: `actor` tried `action` on `user`'s account."""
    access.record(
        user=actor,
        action=action,
        category=CATEGORY,
        obj=user,
        request=request,
        outcome=access.REFUSED,
        detail=f"{user.get_username()}: " + " ".join(problems),
    )


def check_role_change(*, actor, user, added=(), removed=(), request=None) -> None:
    """Raise StaffChangeRefused (and log the refusal) unless `actor` may make this role change."""
    problems = role_change_problems(actor=actor, user=user, added=added, removed=removed)
    if problems:
        record_refusal(actor=actor, user=user, action=ROLE_CHANGE, problems=problems, request=request)
        raise StaffChangeRefused(" ".join(problems))


def assignable_roles(*, actor, user) -> set[str]:
    """Return the names of the groups `actor` may give `user` or take away."""
    names = Group.objects.values_list("name", flat=True)
    return {name for name in names if role_problem(actor=actor, user=user, role=name, adding=True) is None}


def account_flag_problems(*, actor, user, changed: Iterable[str]) -> dict[str, str]:
    """Return, by field, why `actor` may not change these flags (or permissions) of `user`."""
    problems = {}
    for name in changed:
        if _same(actor, user):
            problems[name] = "You cannot change this on your own account; ask another administrator."
        elif name in ("is_superuser", "user_permissions") and not actor.is_superuser:
            problems[name] = "Only a superuser changes this."
        elif user.is_superuser and not actor.is_superuser:
            problems[name] = "Only a superuser changes a superuser's account."
    return problems


def staff_roles_set(*, user, roles: Iterable, actor, request=None) -> None:
    """Give `user` exactly `roles` (groups or their names) as `actor`, if the rule allows it."""
    audit.require_actor(actor)
    wanted = {role if isinstance(role, str) else role.name for role in roles}
    groups = list(Group.objects.filter(name__in=wanted))
    unknown = wanted - {group.name for group in groups}
    if unknown:
        raise ValueError(f"No such role: {', '.join(sorted(unknown))}.")
    held = set(user.groups.values_list("name", flat=True))
    check_role_change(actor=actor, user=user, added=wanted - held, removed=held - wanted, request=request)
    with transaction.atomic(), changed_by(actor):
        user.groups.set(groups)


def password_reset_problem(*, actor, user) -> str | None:
    """Return why `actor` may not reset `user`'s password, or None."""
    if _same(actor, user):
        return 'Change your own password on the "Change password" page, which asks for the current one.'
    if actor.is_superuser:
        return None
    if not manages_accounts(actor):
        return "You do not manage staff accounts."
    if needs_superuser(user):
        return "Only a superuser resets the password of a superuser, clinical staff or an auditor."
    return None


def staff_password_reset(*, user, actor, password: str | None, request=None) -> None:
    """Set `user`'s password (None: disable password sign-in) as `actor`, forcing a change and re-enrolment.

    The user's authenticator apps and recovery codes are deleted and their profile is marked
    "must change password", in one transaction with the access-log entry.
    """
    audit.require_actor(actor)
    problem = password_reset_problem(actor=actor, user=user)
    if problem:
        record_refusal(actor=actor, user=user, action=PASSWORD_RESET, problems=[problem], request=request)
        raise StaffChangeRefused(problem)
    with transaction.atomic():
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(update_fields=["password"])
        devices = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()  # the recovery codes go with their device
        profile = StaffProfile.objects.filter(user=user).first() or StaffProfile(user=user)
        profile.must_change_password = True
        audit.audited_save(profile, actor=actor, reason=PASSWORD_RESET, validate=False)
        access.record(
            user=actor,
            action=PASSWORD_RESET,
            category=CATEGORY,
            obj=user,
            request=request,
            detail=(
                f"{user.get_username()}: password {'reset' if password else 'sign-in disabled'}; "
                f"{devices} authenticator app(s) and the recovery codes removed; "
                "must change the password and enrol again"
            ),
        )


def must_change_password(user) -> bool:
    """Return whether `user` must change their password before anything else (after a reset)."""
    return StaffProfile.objects.filter(user=user, must_change_password=True).exists()


def staff_password_changed(*, user, request=None) -> None:
    """Clear `user`'s "must change password" mark: they chose their own password."""
    profile = StaffProfile.objects.filter(user=user, must_change_password=True).first()
    if profile is None:
        return
    with transaction.atomic():
        profile.must_change_password = False
        audit.audited_save(profile, actor=user, reason=PASSWORD_CHANGED, validate=False)
        access.record(
            user=user,
            action=PASSWORD_CHANGED,
            category=CATEGORY,
            obj=user,
            request=request,
            detail=f"{user.get_username()}: chose a new password after a reset",
        )


def profile_problems(*, actor, profile) -> dict[str, str]:
    """Return, by field, why `actor` may not save `profile` as it now stands."""
    stored = StaffProfile.objects.filter(pk=profile.pk).first() if not profile._state.adding else None
    before = stored or StaffProfile()
    changed = [
        name
        for name in (*QUALIFICATION_FIELDS, "credentials")
        if (name == "user" and stored is not None and stored.user_id != profile.user_id)
        or (name != "user" and getattr(before, name) != getattr(profile, name))
    ]
    problems = {}
    owner = profile.user if profile.user_id else None
    for name in changed:
        if name == "credentials":
            if actor.is_superuser:
                continue
            if not manages_accounts(actor) or (owner is not None and needs_superuser(owner)):
                problems[name] = (
                    "Only a superuser changes the credentials of clinical staff, an auditor or a superuser."
                )
        elif not actor.is_superuser:
            problems[name] = "Only a superuser changes a qualification (clinician, prescriber, supervisor, DEA number)."
        elif owner is not None and _same(actor, owner):
            problems[name] = "Nobody changes their own qualifications; ask another superuser."
    return problems


def staff_profile_save(*, profile, actor, request=None) -> StaffProfile:
    """Save `profile` as `actor` if the rule allows every change it makes."""
    audit.require_actor(actor)
    problems = profile_problems(actor=actor, profile=profile)
    if problems:
        owner = profile.user
        record_refusal(actor=actor, user=owner, action=PROFILE_CHANGE, problems=problems.values(), request=request)
        raise StaffChangeRefused(" ".join(problems.values()))
    return audit.audited_save(profile, actor=actor)
