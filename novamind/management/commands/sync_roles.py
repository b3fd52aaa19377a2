"""Make the role groups hold exactly the permissions of the matrix in novamind.roles.

Any active staff actor may run it: it gives nobody a role (memberships are novamind.staff's)
and can only put the groups back to what the code says, so it raises no one.
"""

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from novamind import access, roles
from novamind.commands import active_staff, add_actor_argument


class Command(BaseCommand):
    help = (
        "Apply the permission matrix (novamind/roles.py) to the role groups: create missing groups, add "
        "missing permissions, remove any other. `migrate` does the same at its end; this command repairs "
        "groups changed by hand. --check changes nothing and exits 1 if a group differs from the matrix. "
        "A sync that changed something is recorded in the access log in the actor's name."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Report differences only; exit 1 if there are any.")
        add_actor_argument(parser)

    def handle(self, *args, check, actor, **options):
        user = active_staff(actor)
        try:
            with transaction.atomic():
                result = roles.sync(
                    group_model=Group,
                    permission_model=Permission,
                    installed_apps=[config.label for config in apps.get_app_configs()],
                    dry_run=check,
                )
                if result.changed and not check:
                    access.record(user=user, action="sync roles", category="roles", detail="; ".join(result.describe()))
        except roles.MatrixError as error:
            raise CommandError(str(error)) from None
        for line in result.describe():
            self.stdout.write(line)
        if check and result.changed:
            raise CommandError("The role groups differ from the matrix in novamind/roles.py (listed above).")
        if not result.changed:
            self.stdout.write(f"The {len(roles.ROLES)} role groups match the matrix.")
        elif not check:
            self.stdout.write(self.style.SUCCESS(f"Role groups updated ({len(result.describe())} change(s))."))
