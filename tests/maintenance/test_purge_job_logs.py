"""purge_job_logs: batched, age-based, never touching lines of live jobs, recorded in the audit."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from auditing.context import audit_context
from auditing.models import AuditLog
from automation.models import Job, JobLog
from tests.factories import JobFactory
from tests.maintenance.helpers import add_lines

pytestmark = pytest.mark.django_db


def purge(*args, **options):
    out = StringIO()
    call_command("purge_job_logs", *args, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def finished_job():
    return JobFactory(status=Job.Status.SUCCESS)


def test_purge_deletes_old_lines_and_keeps_newer_ones(finished_job):
    add_lines(finished_job, 7, days_old=120)
    add_lines(finished_job, 3, start=100)

    output = purge("--days", "90")

    assert "Done. Pruned 7 job log lines." in output
    kept = JobLog.objects.filter(job=finished_job)
    assert sorted(kept.values_list("line_number", flat=True)) == [100, 101, 102]


def test_purge_keeps_lines_of_running_and_pending_jobs(finished_job):
    running = JobFactory(status=Job.Status.RUNNING)
    pending = JobFactory(status=Job.Status.PENDING)
    for job in (finished_job, running, pending):
        add_lines(job, 4, days_old=365)

    output = purge("--days", "90", "--batch-size", "2")

    assert "Done. Pruned 4 job log lines." in output
    assert not JobLog.objects.filter(job=finished_job).exists()
    assert JobLog.objects.filter(job=running).count() == 4
    assert JobLog.objects.filter(job=pending).count() == 4


def test_purge_keeps_a_line_whose_id_is_in_range_but_whose_time_is_newer(finished_job):
    add_lines(finished_job, 2, days_old=200)
    add_lines(finished_job, 1, start=10)  # newer, but its id sits between old ids below
    add_lines(finished_job, 2, days_old=200, start=20)

    assert "Pruned 4 job log lines." in purge("--days", "90", "--batch-size", "10")
    assert list(JobLog.objects.values_list("line_number", flat=True)) == [10]


@pytest.mark.parametrize(("rows", "batches"), [(4, 1), (5, 1), (6, 2)])
def test_purge_batch_boundaries(finished_job, rows, batches):
    add_lines(finished_job, rows, days_old=100)
    add_lines(finished_job, 2, start=1000)

    output = purge("--days", "90", "--batch-size", "5")

    assert f"Done. Pruned {rows} job log lines. ({batches} batches" in output
    assert JobLog.objects.count() == 2
    record = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert record.details["batches"] == batches
    assert record.details["deleted"] == rows


def test_purge_prints_progress_per_batch(finished_job):
    add_lines(finished_job, 6, days_old=100)

    output = purge("--days", "90", "--batch-size", "2", "--verbosity", "2")

    assert "batch 1: 2 job log lines pruned so far" in output
    assert "batch 3: 6 job log lines pruned so far" in output


def test_dry_run_counts_and_deletes_nothing(finished_job):
    add_lines(finished_job, 5, days_old=100)
    add_lines(finished_job, 5, start=50)

    output = purge("--days", "90", "--dry-run")

    assert "Dry run: 5 job log lines would be pruned." in output
    assert JobLog.objects.count() == 10
    record = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert record.details["dry_run"] is True
    assert record.details["deleted"] == 5


def test_purge_records_its_run_as_a_system_audit_row(finished_job):
    add_lines(finished_job, 3, days_old=100)

    purge("--days", "90")

    record = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert record.user is None
    assert record.resource_type == "job_logs"
    assert set(record.details) >= {"cutoff", "days", "deleted", "dry_run", "batches", "seconds"}
    assert record.details["days"] == 90
    assert record.details["deleted"] == 3
    assert record.details["dry_run"] is False


def test_purge_inside_an_audit_context_is_attributed_to_that_user(finished_job, admin):
    with audit_context(user=admin, source="command", ip_address="10.1.2.3"):
        purge("--days", "90")

    record = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert record.user == admin
    assert record.ip_address == "10.1.2.3"


def test_days_default_comes_from_settings(finished_job, settings):
    settings.JOB_LOG_RETENTION_DAYS = 10
    add_lines(finished_job, 2, days_old=20)
    add_lines(finished_job, 2, days_old=5, start=10)

    assert "Done. Pruned 2 job log lines." in purge()


def test_retention_zero_keeps_everything_and_says_skipped(finished_job, settings):
    settings.JOB_LOG_RETENTION_DAYS = 0
    add_lines(finished_job, 3, days_old=5000)

    output = purge()

    assert "skipped" in output
    assert JobLog.objects.count() == 3
    assert not AuditLog.objects.filter(action=AuditLog.Action.PURGE).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--days", "-1"], "--days must be 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1"),
        (["--batch-size", "-5"], "--batch-size must be at least 1"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(finished_job, args, message):
    add_lines(finished_job, 2, days_old=100)

    with pytest.raises(CommandError, match=message):
        purge(*args)
    assert JobLog.objects.count() == 2


@pytest.mark.parametrize("value", ["ninety", "1.5", ""])
def test_non_integer_days_are_refused(value):
    with pytest.raises(CommandError, match="invalid int value"):
        purge("--days", value)
