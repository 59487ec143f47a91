"""Playbook history (PlaybookAuditLog) now belongs to automation, as PlaybookVersion: state only.

The table ``playbook_audit_logs`` stays as it is, with its rows and indexes: automation 0005
declares the same ``db_table`` and index names and takes it over, so nothing is created,
renamed, dropped or rewritten here. Only Django's picture of which app owns the table changes.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("auditing", "0002_login_throttle_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="PlaybookAuditLog")],
        ),
    ]
