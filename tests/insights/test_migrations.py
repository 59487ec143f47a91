"""Moving the rollup models from automation to insights changes Django's state, not the database."""

import re
from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from insights.models import AuditDailyStat, RollupWatermark

BEFORE_THE_MOVE = [("automation", "0003_job_daily_stats"), ("insights", None)]
# Up to the move and the migrations that existed with it; later ones may run DDL of their own.
AFTER_THE_MOVE = [("automation", "0005_playbook_version"), ("insights", "0002_move_content_types")]
DDL = re.compile(r"^\s*(CREATE|ALTER|DROP|RENAME|TRUNCATE)\b", re.IGNORECASE)


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def _schema():
    with connection.cursor() as cursor:
        return {
            model._meta.db_table: connection.introspection.get_constraints(
                cursor, model._meta.db_table
            )
            for model in (AuditDailyStat, RollupWatermark)
        }


@pytest.mark.django_db(transaction=True)
def test_moving_the_rollups_runs_no_ddl_keeps_rows_and_moves_content_types():
    _migrate(BEFORE_THE_MOVE)
    # A database as it was before the move: rollup rows, content types under automation, a
    # permission on one of them.
    ContentType.objects.filter(model="auditdailystat").delete()
    old_type = ContentType.objects.create(app_label="automation", model="auditdailystat")
    permission = Permission.objects.create(
        content_type=old_type, codename="view_auditdailystat_x", name="Can view (test)"
    )
    AuditDailyStat.objects.create(day=date(2026, 3, 10), user_id=7, action="RUN", count=3)
    RollupWatermark.objects.create(name="audit_logs", last_id=42)
    schema = _schema()

    with CaptureQueriesContext(connection) as queries:
        _migrate(AFTER_THE_MOVE)
    _migrate()

    assert [q["sql"] for q in queries if DDL.match(q["sql"])] == []
    assert _schema() == schema
    assert list(AuditDailyStat.objects.values_list("day", "user_id", "action", "count")) == [
        (date(2026, 3, 10), 7, "RUN", 3)
    ]
    assert RollupWatermark.objects.get().last_id == 42
    moved = ContentType.objects.get(pk=old_type.pk)
    assert (moved.app_label, moved.model) == ("insights", "auditdailystat")
    assert moved.model_class() is AuditDailyStat
    assert Permission.objects.get(pk=permission.pk).content_type_id == old_type.pk


@pytest.mark.django_db(transaction=True)
def test_the_move_can_be_undone_and_redone():
    ContentType.objects.get_for_model(AuditDailyStat)  # as after a migrate of today's code
    ContentType.objects.clear_cache()
    _migrate(BEFORE_THE_MOVE)
    assert ContentType.objects.filter(app_label="automation", model="auditdailystat").exists()
    assert not ContentType.objects.filter(app_label="insights").exists()
    _migrate()
    assert ContentType.objects.filter(app_label="insights", model="auditdailystat").exists()
