"""The roles: one group per role of novamind.roles, holding exactly the matrix's permissions.

Permissions are normally created after all migrations (post_migrate); they are created here
first so the groups can be given them. The matrix is the live one in novamind.roles: what
does not exist yet at this point is skipped here and applied by the post-migrate step
(novamind.apps), which runs the same sync strictly at the end of every `migrate`.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from novamind import roles


def apply_roles(apps, schema_editor):
    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        # create_permissions skips an app config without a models module, which is what the
        # migration state's configs are; the real configs (a test may pass the global registry)
        # get their own value back, or the next flush would skip every app in post_migrate.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, using=alias, apps=apps)
        finally:
            app_config.models_module = original
    roles.sync(
        group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"),
        installed_apps=[config.label for config in apps.get_app_configs()], strict=False,
    )


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=list(roles.MATRIX)):
        group.permissions.clear()
        group.delete()


class Migration(migrations.Migration):

    dependencies = [
        ("novamind", "0002_access_log"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("patients", "0001_initial"),
        ("appointments", "0001_initial"),
        ("clinical_notes", "0002_cosign_permission"),
        ("medications", "0002_current_medications_permission"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="accesslogentry",
            options={
                "ordering": ["-sequence"],
                "permissions": [("view_audit_report", "Can download the audit report")],
                "verbose_name": "access log entry",
                "verbose_name_plural": "access log",
            },
        ),
        migrations.RunPython(apply_roles, remove_roles),
    ]
