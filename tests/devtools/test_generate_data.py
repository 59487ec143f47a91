"""The large-data generator, at small sizes."""

import hashlib
from collections import Counter

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from auditing.models import AuditLog
from automation.models import Job, JobLog, Playbook, PlaybookVersion
from insights.models import JobDailyStat
from inventory.models import Server, ServerMetric

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _development(settings):
    settings.DEBUG = True  # the test runner forces False; the generator is for development


SMALL = [
    "--servers",
    "5",
    "--playbooks",
    "3",
    "--jobs",
    "400",
    "--audit",
    "300",
    "--metrics-per-server",
    "4",
    "--playbook-versions",
    "3",
    "--batch-size",
    "100",
]


def generate(*extra):
    call_command("generate_data", *SMALL, *extra, stdout=__import__("io").StringIO())


def test_generates_every_table_with_the_requested_counts():
    generate()
    assert Server.objects.count() == 5 and ServerMetric.objects.count() == 20
    assert Playbook.objects.count() == 3 and PlaybookVersion.objects.count() == 9
    assert Job.objects.count() == 400
    assert abs(JobLog.objects.count() - 4000) <= 40  # --log-lines defaults to 10 a job
    assert AuditLog.objects.filter(details__generated=True).count() == 300
    assert Counter(
        User.objects.filter(username__startswith="gen-").values_list("role", flat=True)
    ) == {"super_admin": 2, "admin": 6, "user": 24}


def test_statuses_and_times_are_realistic():
    generate()
    statuses = Counter(Job.objects.values_list("status", flat=True))
    assert statuses["success"] > 0.7 * 400 and 0 < statuses["failed"] < 0.25 * 400
    for job in Job.objects.all()[:50]:
        assert job.created_at <= job.started_at <= job.completed_at
        assert (job.completed_at - job.started_at).total_seconds() <= 3600
    failed = Job.objects.filter(status="failed").first()
    assert failed.error_message and failed.first_error_line
    assert JobLog.objects.get(job=failed, line_number=failed.first_error_line).log_level == "ERROR"


def test_console_lines_are_numbered_from_one_without_gaps():
    generate()
    for job in Job.objects.all()[:20]:
        numbers = list(
            JobLog.objects.filter(job=job)
            .order_by("line_number")
            .values_list("line_number", flat=True)
        )
        assert numbers == list(range(1, len(numbers) + 1))


def test_each_job_records_the_version_in_force_when_it_ran():
    generate()
    for job in Job.objects.select_related("playbook")[:50]:
        versions = PlaybookVersion.objects.filter(
            playbook_id=job.playbook_id, created_at__lte=job.created_at
        )
        in_force = (
            versions.order_by("-created_at").first()
            or PlaybookVersion.objects.filter(playbook_id=job.playbook_id)
            .order_by("created_at")
            .first()
        )
        assert job.playbook_sha256 == in_force.new_sha256
    for version in PlaybookVersion.objects.all():
        assert version.new_sha256 == hashlib.sha256(version.new_content.encode()).hexdigest()
    playbook = Playbook.objects.first()
    latest = (
        PlaybookVersion.objects.filter(playbook_id=playbook.pk).order_by("-created_at").first()
    )
    assert playbook.read_content() == latest.new_content


def test_foreign_keys_point_at_real_rows():
    generate()
    assert not Job.objects.exclude(server__in=Server.objects.all()).exists()
    assert not Job.objects.exclude(playbook__in=Playbook.objects.all()).exists()
    assert not JobLog.objects.exclude(job__in=Job.objects.all()).exists()


def test_analytics_rollups_are_rebuilt():
    generate()
    assert sum(JobDailyStat.objects.values_list("runs", flat=True)) == Job.objects.count()


def test_a_second_run_is_refused_unless_appending():
    generate()
    with pytest.raises(CommandError, match="already holds generated data"):
        generate()
    generate("--append")
    assert Job.objects.count() == 800 and Server.objects.count() == 5


def test_refuses_in_production_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is False"):
        generate()
    generate("--force")
    assert Job.objects.count() == 400


@pytest.mark.parametrize(
    "args, message",
    [
        (["--jobs", "-1"], "--jobs cannot be negative"),
        (["--servers", "0"], "at least one server"),
        (["--jobs", "0", "--log-lines", "10"], "--log-lines needs --jobs"),
        (["--playbook-versions", "0"], "at least 1"),
        (["--batch-size", "5"], "between 100 and 100,000"),
    ],
)
def test_bad_arguments_are_refused_with_a_message(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("generate_data", *SMALL, *args)
    assert not Job.objects.exists()
