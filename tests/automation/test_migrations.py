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
AFTER_THE_MOVE = [
    ("automation", "0005_playbook_version"),
    ("auditing", "0003_move_playbook_versions_to_automation"),
]
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
    _migrate()  # the migrations after the move (their DDL, and columns, are theirs)


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


@pytest.mark.django_db(transaction=True)
def test_the_continuation_column_is_added_in_place_without_a_table_rewrite():
    """job_logs is the biggest table: adding a column must be a metadata change. MariaDB
    refuses ALGORITHM=INSTANT for any ALTER that would copy or rebuild the table."""
    if connection.vendor != "mysql":
        pytest.skip("the production database is MariaDB/MySQL; SQLite rebuilds on any ALTER")
    executor = MigrationExecutor(connection)
    _migrate([("automation", "0005_playbook_version")])
    executor.loader.build_graph()
    migration = executor.loader.get_migration("automation", "0006_joblog_continuation")
    state = executor.loader.project_state(("automation", "0005_playbook_version"))
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        migration.apply(state, editor, collect_sql=True)
    statements = [sql.rstrip(";") for sql in editor.collected_sql if DDL.match(sql)]
    assert len(statements) == 1 and "ADD COLUMN" in statements[0]
    try:
        with connection.cursor() as cursor:
            cursor.execute(statements[0] + ", ALGORITHM=INSTANT")
        executor.recorder.record_applied("automation", "0006_joblog_continuation")
    finally:
        _migrate()
    columns = [
        c.name
        for c in connection.introspection.get_table_description(connection.cursor(), "job_logs")
    ]
    assert "continuation" in columns


@pytest.mark.django_db(transaction=True)
def test_the_cancel_reason_column_is_added_to_jobs_in_place():
    """jobs holds a million rows at scale: its new column must be a metadata change too."""
    if connection.vendor != "mysql":
        pytest.skip("the production database is MariaDB/MySQL; SQLite rebuilds on any ALTER")
    before = ("automation", "0006_joblog_continuation")
    executor = MigrationExecutor(connection)
    _migrate([before])
    executor.loader.build_graph()
    migration = executor.loader.get_migration("automation", "0007_worker_heartbeats")
    state = executor.loader.project_state(before)
    with connection.schema_editor(collect_sql=True, atomic=False) as editor:
        migration.apply(state, editor, collect_sql=True)
    statements = [sql.rstrip(";") for sql in editor.collected_sql if DDL.match(sql)]
    on_jobs = [sql for sql in statements if sql.startswith("ALTER TABLE `jobs`")]
    assert len(on_jobs) == 1 and "ADD COLUMN `cancel_reason`" in on_jobs[0]
    try:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql + (", ALGORITHM=INSTANT" if sql in on_jobs else ""))
        executor.recorder.record_applied("automation", migration.name)
    finally:
        _migrate()
    columns = [
        c.name for c in connection.introspection.get_table_description(connection.cursor(), "jobs")
    ]
    assert "cancel_reason" in columns
