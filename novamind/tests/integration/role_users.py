"""Builders of the role tests: staff users holding roles (groups), given by a named superuser.

They have no password (tests sign in with force_login), which spares the password hashing.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from novamind import audit, signals
from novamind.models import StaffProfile


def superuser(username="root"):
    """Return a superuser (the one who hands out roles in these tests)."""
    User = get_user_model()
    return User.objects.filter(username=username).first() or User.objects.create_user(
        username=username,
        is_staff=True,
        is_superuser=True,
    )


def member(username, *role_names, profile=None):
    """Return a staff user holding exactly `role_names`, with a staff profile if `profile` is given."""
    user = get_user_model().objects.create_user(username=username, is_staff=True)
    admin = superuser()
    groups = list(Group.objects.filter(name__in=role_names))
    assert len(groups) == len(role_names), f"unknown role among {role_names}"
    with signals.changed_by(admin):
        user.groups.set(groups)
    if profile is not None:
        audit.audited_save(StaffProfile(user=user, **profile), actor=admin)
    return get_user_model().objects.get(pk=user.pk)  # no cached permissions
