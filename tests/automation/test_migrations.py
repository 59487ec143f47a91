"""Moving playbook history from auditing to automation (PlaybookAuditLog -> PlaybookVersion)
changes Django's state, not the database."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from automation.models import PlaybookVersion

BEFORE_THE_MOVE = [
    ("automation", "0004_move_rollups_to_insights"),
    ("auditing", "0002_login_throttle_index"),
]
# The move itself; later migrations (which may well change tables) are applied after the check.
AFTER_THE_MOVE = [("automation", "0005_playbook_version")]
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)
TABLE = "playbook_audit_logs"


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def _schema():
    with connection.cursor() as cursor:
        columns = [
            (c.name, c.type_code, c.null_ok)
            for c in connection.introspection.get_table_description(cursor, TABLE)
        ]
        return columns, connection.introspection.get_constraints(cursor, TABLE)


def _rows():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, playbook_id, playbook_name, user_id, action, old_content, new_content, "
            "new_sha256, changes_description, ip_address, created_at FROM playbook_audit_logs "
            "ORDER BY id"
        )
        return cursor.fetchall()


@pytest.mark.django_db(transaction=True)
def test_moving_playbook_versions_runs_no_ddl_keeps_rows_and_moves_content_type():
    _migrate(BEFORE_THE_MOVE)
    # A database as it was before the move: history rows, the content type under auditing and
    # a permission granted on it.
    ContentType.objects.filter(model__in=["playbookversion", "playbookauditlog"]).delete()
    old_type = ContentType.objects.create(app_label="auditing", model="playbookauditlog")
    permission = Permission.objects.create(
        content_type=old_type, codename="view_playbookauditlog", name="Can view playbook audit log"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO playbook_audit_logs (id, playbook_id, playbook_name, action, old_content, "
            "new_content, new_sha256, changes_description, ip_address, created_at) VALUES "
            "(41, 7, 'deploy', 'updated', 'a: 1', 'a: 2', 'abc', '+1 -1 lines', '10.0.0.1', "
            "'2026-03-10 12:00:00')"
        )
    schema, rows = _schema(), _rows()

    with CaptureQueriesContext(connection) as queries:
        _migrate(AFTER_THE_MOVE)

    assert [q["sql"] for q in queries if DDL.match(q["sql"])] == []
    assert _schema() == schema
    assert _rows() == rows
    # Only these columns: later migrations add others the table does not have yet.
    version = PlaybookVersion.objects.values_list("playbook_id", "new_content").get(pk=41)
    assert version == (7, "a: 2")
    moved = ContentType.objects.get(pk=old_type.pk)
    assert (moved.app_label, moved.model) == ("automation", "playbookversion")
    assert moved.model_class() is PlaybookVersion
    permission.refresh_from_db()
    assert permission.content_type_id == old_type.pk
    assert permission.codename == "view_playbookversion"
    _migrate()


@pytest.mark.django_db(transaction=True)
def test_the_move_can_be_undone_and_redone():
    ContentType.objects.get_for_model(PlaybookVersion)  # as after a migrate of today's code
    ContentType.objects.clear_cache()
    _migrate(BEFORE_THE_MOVE)
    assert ContentType.objects.filter(app_label="auditing", model="playbookauditlog").exists()
    assert not ContentType.objects.filter(model="playbookversion").exists()
    _migrate()
    assert ContentType.objects.filter(app_label="automation", model="playbookversion").exists()
    assert not ContentType.objects.filter(model="playbookauditlog").exists()
