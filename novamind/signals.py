"""Role changes are audited: every change of a user's groups is written to the access log.

Django records no history of group membership, so the m2m_changed signal of User.groups
appends one access-log entry per user whose roles changed ("role change", category "roles"),
in the transaction of the change, naming who made it: the signed-in user of the request (the
admin), or the actor given to `changed_by()` (commands, scripts). A change with neither is
refused with AnonymousWriteError, like every other unattributed write; a change the actor may
not make (novamind.staff: only a superuser gives clinical roles, nobody changes their own) is
refused with staff.StaffChangeRefused before a row is written.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_migrate
from simple_history.models import HistoricalRecords

from novamind import access, audit, roles, staff

ROLE_CHANGE = staff.ROLE_CHANGE
CATEGORY = staff.CATEGORY
changed_by = staff.changed_by  # the public name commands and scripts use


def _current_actor_and_request():
    request = getattr(HistoricalRecords.context, "request", None)
    actor = staff.current_actor()
    if actor is None and request is not None:
        actor = getattr(request, "user", None)
    return audit.require_actor(actor), request


def _check(user, *, added=(), removed=()):
    actor, request = _current_actor_and_request()
    if added or removed:
        staff.check_role_change(actor=actor, user=user, added=added, removed=removed, request=request)


def _record(user, *, added=(), removed=()):
    actor, request = _current_actor_and_request()
    parts = []
    if added:
        parts.append("added " + ", ".join(sorted(added)))
    if removed:
        parts.append("removed " + ", ".join(sorted(removed)))
    access.record(
        user=actor,
        action=ROLE_CHANGE,
        category=CATEGORY,
        obj=user,
        request=request,
        detail=f"{user.get_username()}: {'; '.join(parts)}",
    )


def audit_group_membership(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Write an access-log entry for each user whose groups were added, removed or cleared."""
    User = get_user_model()
    if action == "pre_clear":
        # The cleared rows are only known before they go.
        if reverse:  # group.user_set.clear()
            instance._novamind_cleared = list(instance.user_set.all())
            for user in instance._novamind_cleared:
                _check(user, removed=[instance.name])
        else:  # user.groups.clear()
            instance._novamind_cleared = list(instance.groups.values_list("name", flat=True))
            _check(instance, removed=instance._novamind_cleared)
        return
    if action in ("pre_add", "pre_remove") and pk_set:
        key = "added" if action == "pre_add" else "removed"
        if reverse:
            for user in User.objects.filter(pk__in=pk_set).order_by("pk"):
                _check(user, **{key: [instance.name]})
        else:
            _check(instance, **{key: list(Group.objects.filter(pk__in=pk_set).values_list("name", flat=True))})
        return
    if action == "post_clear":
        cleared = instance.__dict__.pop("_novamind_cleared", [])
        if reverse:
            for user in cleared:
                _record(user, removed=[instance.name])
        elif cleared:
            _record(instance, removed=cleared)
        return
    if action not in ("post_add", "post_remove") or not pk_set:
        return
    key = "added" if action == "post_add" else "removed"
    if reverse:  # group.user_set.add(users…): instance is the group
        for user in User.objects.filter(pk__in=pk_set).order_by("pk"):
            _record(user, **{key: [instance.name]})
    else:
        names = Group.objects.filter(pk__in=pk_set).values_list("name", flat=True)
        _record(instance, **{key: list(names)})


def sync_roles_after_migrate(sender, using, apps=None, **kwargs):
    """Apply the permission matrix at the end of every `migrate` (and after a test flush)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Permission

    # The apps after this one in INSTALLED_APPS get their permissions later in the same
    # post_migrate round; create them now (idempotent) so the matrix can be applied in full.
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using, apps=apps or global_apps)
    roles.sync(
        group_model=Group,
        permission_model=Permission,
        installed_apps=[config.label for config in global_apps.get_app_configs()],
    )


def connect(app_config) -> None:
    """Connect the handlers (called from NovamindConfig.ready)."""
    m2m_changed.connect(
        audit_group_membership,
        sender=get_user_model().groups.through,
        dispatch_uid="novamind_role_audit",
    )
    post_migrate.connect(sync_roles_after_migrate, sender=app_config, dispatch_uid="novamind_sync_roles")
