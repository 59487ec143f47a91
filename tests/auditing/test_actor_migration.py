"""The actor snapshot migrations fill username and role on rows written before them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory

BEFORE = [
    ("auditing", "0003_move_playbook_versions_to_automation"),
    ("automation", "0007_worker_heartbeats"),
]


def _migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_existing_audit_and_history_rows_get_the_username_and_role_of_their_user():
    person = UserFactory(username="early", role="admin")
    _migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_logs (user_id, action, resource_type, resource_id, details,"
            " user_agent, request_id, timestamp) VALUES"
            " (%s, 'LOGIN', 'user', '1', '{}', '', '', '2026-03-10 12:00:00'),"
            " (NULL, 'PURGE', 'job_logs', '', '{}', '', '', '2026-03-10 12:00:00')",
            [person.pk],
        )
        cursor.execute(
            "INSERT INTO playbook_audit_logs (playbook_id, playbook_name, user_id, action,"
            " old_content, new_content, new_sha256, changes_description, created_at) VALUES"
            " (7, 'deploy', %s, 'updated', '', 'a: 1', 'abc', '', '2026-03-10 12:00:00')",
            [person.pk],
        )
    _migrate()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT action, username, user_role FROM audit_logs"
            " WHERE action IN ('LOGIN', 'PURGE') ORDER BY id"
        )
        assert list(cursor.fetchall()) == [("LOGIN", "early", "admin"), ("PURGE", "", "")]
        cursor.execute("SELECT username, user_role FROM playbook_audit_logs")
        assert list(cursor.fetchall()) == [("early", "admin")]
