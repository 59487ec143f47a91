"""The schema on the configured database: tables, names, indexes, constraints, transitions."""

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User
from automation.models import InvalidTransition, Job
from tests.factories import (
    JobFactory,
    JobLogFactory,
    PlaybookFactory,
    ServerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TABLES = {
    "users",
    "servers",
    "server_metrics",
    "playbooks",
    "jobs",
    "job_logs",
    "audit_logs",
    "playbook_audit_logs",
}


def constraints(table):
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def test_all_eight_tables_exist_and_no_tickets():
    tables = set(connection.introspection.table_names())
    assert tables >= TABLES
    assert "tickets" not in tables


def test_named_indexes_exist():
    assert constraints("users")["idx_users_role"]["columns"] == ["role"]
    assert constraints("jobs")["idx_jobs_created_at"]["columns"] == ["created_at"]
    jobs = constraints("jobs")
    assert jobs["idx_jobs_status_created"]["columns"] == ["status", "created_at"]
    assert jobs["idx_jobs_playbook_created"]["columns"] == ["playbook_id", "created_at"]
    assert jobs["idx_jobs_server_created"]["columns"] == ["server_id", "created_at"]


def test_big_integer_ids_on_log_tables():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite integer keys are always 64-bit; the column type says nothing")
    for table in ("job_logs", "audit_logs"):
        with connection.cursor() as cursor:
            description = connection.introspection.get_table_description(cursor, table)
        id_column = next(c for c in description if c.name == "id")
        field_type = connection.introspection.get_field_type(id_column.type_code, id_column)
        assert field_type == "BigAutoField"


def test_playbook_audit_playbook_id_is_a_plain_integer():
    fks = [c for c in constraints("playbook_audit_logs").values() if c["foreign_key"]]
    assert all(c["columns"] != ["playbook_id"] for c in fks)


def test_hostname_is_unique():
    ServerFactory(hostname="db1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ServerFactory(hostname="db1")


def test_playbook_name_is_unique():
    PlaybookFactory(name="Deploy")
    with pytest.raises(IntegrityError), transaction.atomic():
        PlaybookFactory(name="Deploy")


def test_job_log_line_numbers_are_unique_per_job():
    line = JobLogFactory(line_number=1)
    JobLogFactory(line_number=1)  # another job: fine
    with pytest.raises(IntegrityError), transaction.atomic():
        JobLogFactory(job=line.job, line_number=1)


def test_username_and_email_are_unique():
    UserFactory(username="kim", email="kim@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(username="kim2", email="kim@example.com")


@pytest.mark.parametrize(
    "role, staff",
    [(User.Role.USER, False), (User.Role.ADMIN, False), (User.Role.SUPER_ADMIN, True)],
)
def test_staff_and_superuser_flags_follow_the_role(role, staff):
    person = UserFactory(role=role)
    person.refresh_from_db()
    assert person.is_staff is staff and person.is_superuser is staff
    assert person.is_admin is (role != User.Role.USER)


def test_demoting_a_super_admin_removes_admin_site_access():
    person = UserFactory(role=User.Role.SUPER_ADMIN)
    person.role = User.Role.ADMIN
    person.save(update_fields=["role"])
    person.refresh_from_db()
    assert not person.is_staff and not person.is_superuser


def test_createsuperuser_makes_a_super_admin():
    person = User.objects.create_superuser("root2", "root2@example.com", "x" * 12)
    assert person.role == User.Role.SUPER_ADMIN and person.is_staff


def test_status_choices():
    assert set(Job.Status.values) == {"pending", "running", "success", "failed", "cancelled"}


def test_a_job_is_claimed_once():
    job = JobFactory()
    assert job.start(worker="w1:1") is True
    second = Job.objects.get(pk=job.pk)
    assert second.start(worker="w2:2") is False
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.worker == "w1:1" and job.started_at


def test_a_finished_job_cannot_run_again():
    job = JobFactory()
    job.start()
    job.finish(Job.Status.SUCCESS, rc=0)
    with pytest.raises(InvalidTransition):
        job.transition(Job.Status.RUNNING)
    with pytest.raises(InvalidTransition):
        job.finish(Job.Status.FAILED)


def test_finish_refuses_a_non_final_status():
    job = JobFactory()
    job.start()
    with pytest.raises(InvalidTransition):
        job.finish(Job.Status.PENDING)


def test_a_stale_instance_loses_the_race_and_is_refreshed():
    job = JobFactory()
    stale = Job.objects.get(pk=job.pk)
    assert job.request_cancel()
    assert stale.start() is False
    assert stale.status == Job.Status.CANCELLED


def test_cancelling_a_running_job_sets_the_flag():
    job = JobFactory()
    job.start()
    assert job.request_cancel()
    job.refresh_from_db()
    assert job.cancel_requested and job.status == Job.Status.RUNNING


def test_cancelling_a_finished_job_does_nothing():
    job = JobFactory()
    job.start()
    job.finish(Job.Status.FAILED, rc=2, error_message="boom")
    assert job.request_cancel() is False
