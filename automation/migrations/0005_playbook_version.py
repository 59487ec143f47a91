"""Playbook history moves here from auditing and is named for what it is: PlaybookVersion.

State only: the table ``playbook_audit_logs`` exists already (auditing 0001 created it) and keeps
its name, columns, rows and index names through ``db_table`` and the indexes declared below, so
no table is created, renamed or rewritten. auditing 0003 removes the model from auditing's
picture first; this migration adds it to automation's.

Its content type is renamed (auditing.playbookauditlog -> automation.playbookversion), so
permissions and admin log entries, which point at it by id, follow it; the default permissions'
codenames are renamed with it, so a group keeps what it was granted. On a fresh database there
is nothing to rename: Django creates the content type after migrating.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OLD = ("auditing", "playbookauditlog")
NEW = ("automation", "playbookversion")
DEFAULT_PERMISSIONS = ("add", "change", "delete", "view")


def _move(apps, schema_editor, source, target):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    # A content type already under the target (Django created it after an earlier migrate)
    # wins; the old one is then left for remove_stale_contenttypes rather than merged here.
    if ContentType.objects.using(db).filter(app_label=target[0], model=target[1]).exists():
        return
    moved = ContentType.objects.using(db).filter(app_label=source[0], model=source[1]).first()
    if moved is None:
        return
    moved.app_label, moved.model = target
    moved.save(update_fields=["app_label", "model"])
    verbose = {"playbookversion": "playbook version", "playbookauditlog": "playbook audit log"}
    for action in DEFAULT_PERMISSIONS:
        Permission.objects.using(db).filter(
            content_type=moved, codename=f"{action}_{source[1]}"
        ).update(codename=f"{action}_{target[1]}", name=f"Can {action} {verbose[target[1]]}")


def forwards(apps, schema_editor):
    _move(apps, schema_editor, OLD, NEW)


def backwards(apps, schema_editor):
    _move(apps, schema_editor, NEW, OLD)


class Migration(migrations.Migration):

    dependencies = [
        ("automation", "0004_move_rollups_to_insights"),
        ("auditing", "0003_move_playbook_versions_to_automation"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="PlaybookVersion",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("playbook_id", models.PositiveBigIntegerField()),
                        ("playbook_name", models.CharField(max_length=255)),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("created", "Created"),
                                    ("updated", "Updated"),
                                    ("deleted", "Deleted"),
                                    ("uploaded", "Uploaded"),
                                    ("replaced", "Replaced"),
                                    ("restored", "Restored"),
                                    ("undeleted", "Undeleted"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("old_content", models.TextField(blank=True)),
                        ("new_content", models.TextField(blank=True)),
                        ("new_sha256", models.CharField(blank=True, max_length=64)),
                        ("changes_description", models.TextField(blank=True)),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="playbook_changes",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "playbook_audit_logs",
                        "indexes": [
                            models.Index(
                                fields=["playbook_id", "created_at"], name="idx_pb_audit_playbook"
                            ),
                            models.Index(fields=["action"], name="idx_pb_audit_action"),
                            models.Index(fields=["created_at"], name="idx_pb_audit_created_at"),
                            models.Index(fields=["new_sha256"], name="idx_pb_audit_sha256"),
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
