"""db_report and /database/: the live report's numbers are the database's real numbers."""

import json
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from auditing.models import AuditLog
from automation.models import Job, JobLog, Playbook, PlaybookVersion
from inventory.models import Server, ServerMetric
from maintenance import dbreport
from tests.factories import AuditLogFactory, JobFactory, ServerMetricFactory
from tests.maintenance.helpers import add_lines, backdate

pytestmark = pytest.mark.django_db

MODELS = [User, Server, ServerMetric, Playbook, Job, JobLog, AuditLog, PlaybookVersion]


@pytest.fixture
def data():
    """Three finished jobs with 10, 20 and 30 lines; metrics, some of them old; audit rows."""
    jobs = JobFactory.create_batch(3, status=Job.Status.SUCCESS)
    for n, job in enumerate(jobs, start=1):
        add_lines(job, 10 * n)
    backdate(JobLog.objects.filter(job=jobs[0]), "timestamp", 45)
    old_sample, *_ = ServerMetricFactory.create_batch(4, server=jobs[0].server)
    backdate(ServerMetric.objects.filter(pk=old_sample.pk), "collected_at", 40)
    AuditLogFactory.create_batch(2)
    return jobs


def report_command(*args):
    out = StringIO()
    call_command("db_report", *args, stdout=out)
    return out.getvalue()


def test_report_counts_equal_real_counts(data):
    report = dbreport.build_report()

    by_table = {row["table"]: row for row in report["tables"]}
    for model in MODELS:
        row = by_table[model._meta.db_table]
        # Small tables are counted exactly on every engine.
        assert row["rows_exact"]
        assert row["rows"] == model.objects.count(), model._meta.db_table
    assert report["totals"]["rows"] == sum(r["rows"] for r in report["tables"])


def test_report_lists_every_project_table_and_flags_empty_ones_unused(data):
    report = dbreport.build_report()

    tables = {row["table"] for row in report["tables"]}
    assert {m._meta.db_table for m in MODELS} <= tables
    unused = set(report["totals"]["unused_tables"])
    assert "playbook_audit_logs" in unused  # nothing wrote one
    assert "job_logs" not in unused
    assert all(row["unused"] == (row["rows"] == 0) for row in report["tables"])


def test_report_gives_sizes_and_utilisation(data):
    report = dbreport.build_report()

    job_logs = next(r for r in report["tables"] if r["table"] == "job_logs")
    assert job_logs["total_bytes"] > 0
    assert job_logs["total_bytes"] == job_logs["data_bytes"] + job_logs["index_bytes"]
    shares = [r["utilisation_pct"] for r in report["tables"]]
    assert sum(shares) == pytest.approx(100, abs=1)


def test_report_gives_lines_per_job_and_projections(data):
    report = dbreport.build_report()

    assert report["job_logs"]["lines_per_job"] == 20.0  # (10 + 20 + 30) / 3
    at_1k, at_10k = report["projection"]["at_jobs"]
    assert (at_1k["jobs"], at_1k["log_rows"]) == (1000, 20_000)
    assert at_10k["log_rows"] == 200_000
    # 60 lines are a few mostly empty pages: no per-row size, so no MB guess.
    assert at_1k["log_mb"] is None

    per_year = {p["table"]: p for p in report["projection"]["per_year"]}
    logs = per_year["job_logs"]
    assert logs["last_30_days"] == 50  # the 10 back-dated lines are older
    assert logs["per_year"] == round(50 / 30 * 365)
    assert logs["rows_in_a_year"] == 60 + logs["per_year"]
    assert logs["rows_in_a_year_with_retention"] == round(50 / 30 * 90)
    assert per_year["server_metrics"]["last_30_days"] == 3


def test_projection_in_mb_scales_with_the_measured_row_size(data, monkeypatch):
    monkeypatch.setattr(dbreport, "MIN_ROWS_FOR_ROW_SIZE", 1)

    report = dbreport.build_report()

    job_logs = next(r for r in report["tables"] if r["table"] == "job_logs")
    assert job_logs["bytes_per_row"] == round(job_logs["total_bytes"] / 60)
    at_1k, at_10k = report["projection"]["at_jobs"]
    assert at_1k["log_mb"] == round(20_000 * job_logs["bytes_per_row"] / 1024 / 1024, 1)
    assert at_10k["log_mb"] == pytest.approx(10 * at_1k["log_mb"], rel=0.01)


def test_report_shows_retention_in_force_and_last_purge_runs(data, settings):
    settings.SERVER_METRICS_RETENTION_DAYS = 0
    call_command("purge_job_logs", "--days", "30", stdout=StringIO())
    run = AuditLog.objects.get(action=AuditLog.Action.PURGE)

    retention = {r["table"]: r for r in dbreport.build_report()["retention"]}

    assert retention["job_logs"]["last_run"] == run.timestamp
    assert retention["audit_logs"]["last_run"] is None
    assert retention["audit_logs"]["days"] == settings.AUDIT_LOG_RETENTION_DAYS
    assert retention["server_metrics"]["days"] == 0


def test_no_recommended_index_is_missing_on_the_migrated_schema(data):
    assert dbreport.build_report()["missing_indexes"] == []


def test_an_index_absent_from_the_live_schema_is_reported():
    wanted = [("jobs", ("error_message",), "idx_jobs_error", "a deliberately absent index")]

    missing = dbreport.missing_indexes(recommended=wanted)

    assert missing == [
        {
            "table": "jobs",
            "columns": ["error_message"],
            "name": "idx_jobs_error",
            "why": "a deliberately absent index",
        }
    ]


def test_every_named_index_in_the_models_is_checked_and_says_why():
    declared = dbreport.declared_indexes()
    listed = {name for _, _, name, _, _ in declared}
    named = set()
    for label in dbreport.PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            named |= {index.name for index in model._meta.indexes}
            named |= {c.name for c in model._meta.constraints}
    assert named <= listed, named - listed
    assert named <= set(dbreport.INDEX_REASONS), named - set(dbreport.INDEX_REASONS)
    columns = {(table, cols) for table, cols, *_ in declared}
    assert ("jobs", ("playbook_sha256",)) in columns
    assert ("job_activity_stats", ("bucket",)) in columns


def test_an_index_counts_only_with_its_whole_column_list():
    # (status, created_at) exists; an index on status alone, or on more columns, does not.
    wanted = [
        ("jobs", ("status",), "idx_status", "a prefix of a live index"),
        ("jobs", ("status", "created_at", "id"), "idx_longer", "longer than the live index"),
        ("jobs", ("status", "created_at"), "idx_jobs_status_created", "the live index"),
    ]
    missing = [m["name"] for m in dbreport.missing_indexes(recommended=wanted)]
    assert missing == ["idx_status", "idx_longer"]


def test_the_last_purge_is_the_latest_by_time_not_by_id():
    from datetime import timedelta

    from django.utils import timezone

    newest = timezone.now() - timedelta(hours=1)
    AuditLogFactory(action="PURGE", resource_type="job_logs", user=None, timestamp=newest)
    AuditLogFactory(  # written later (a higher id), e.g. restored, but an older run
        action="PURGE", resource_type="job_logs", user=None, timestamp=newest - timedelta(days=9)
    )
    retention = {r["table"]: r for r in dbreport.build_report()["retention"]}
    assert retention["job_logs"]["last_run"] == newest


def test_markdown_report_has_every_section(data):
    output = report_command()

    for heading in (
        "# Database report",
        "## Tables",
        "## Job logs",
        "## Growth projection",
        "## Retention",
        "## Missing recommended indexes",
    ):
        assert heading in output
    assert f"| job_logs | {JobLog.objects.count()} |" in output
    assert "UNUSED" in output


def test_json_report_parses_and_matches_the_counts(data):
    report = json.loads(report_command("--format", "json"))

    counts = {row["table"]: row["rows"] for row in report["tables"]}
    assert counts["jobs"] == 3
    assert counts["job_logs"] == 60
    assert report["engine"]["vendor"] == connection.vendor


@pytest.mark.parametrize("value", ["html", "", "JSON"])
def test_unknown_format_is_refused(value):
    with pytest.raises(CommandError, match="invalid choice"):
        report_command("--format", value)


@pytest.mark.skipif(connection.vendor != "mysql", reason="estimates exist only on MySQL/MariaDB")
def test_big_tables_use_marked_estimates_on_mysql(data, monkeypatch):
    monkeypatch.setattr(dbreport, "EXACT_COUNT_LIMIT", 0)

    report = dbreport.build_report()

    assert not any(row["rows_exact"] for row in report["tables"])
    markdown = dbreport.render_markdown(report)
    assert "| job_logs | ~" in markdown
    # Every figure derived from an estimate is marked too.
    assert all(not p["exact"] for p in report["projection"]["per_year"])
    line = next(x for x in markdown.splitlines() if x.startswith("| job_logs | ~") and "d |" in x)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert all(c.startswith("~") for c in cells[2:4] + cells[6:7]), line


def test_exact_period_figures_are_not_marked(data):
    report = dbreport.build_report()
    if connection.vendor == "mysql":
        assert all(p["exact"] for p in report["projection"]["per_year"])
    markdown = dbreport.render_markdown(report)
    line = next(x for x in markdown.splitlines() if x.startswith("| job_logs |") and "d |" in x)
    assert "~" not in line


def test_super_admin_sees_the_database_page(as_super_admin, data, django_assert_max_num_queries):
    # A few queries per table, whatever the number of rows.
    # Constant in data size; one "last purge" lookup per retention table (3), each an index
    # seek, replaced a group-by that sorted every PURGE row (0.8 s at 1M audit rows).
    # 36: the four project tables (projects, snapshots, syncs, sync logs) added one each.
    # 42: the inventory tables (server_groups, its members and children, job_target_groups,
    # job_hosts) and credentials, one each.
    with django_assert_max_num_queries(42):
        response = as_super_admin.get("/database/")

    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-rows="{JobLog.objects.count()}"' in body
    assert "Growth projection" in body
    assert "purge_audit_logs" in body


def test_database_page_query_count_does_not_grow_with_data(as_super_admin, data):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as before:
        as_super_admin.get("/database/")
    for job in data:
        add_lines(job, 50, start=1000)
    AuditLogFactory.create_batch(5)
    with CaptureQueriesContext(connection) as after:
        as_super_admin.get("/database/")

    assert len(after) == len(before)


@pytest.mark.parametrize("client_name", ["as_admin", "as_user"])
def test_others_get_403_on_the_database_page(request, client_name):
    response = request.getfixturevalue(client_name).get("/database/")

    assert response.status_code == 403


def test_anonymous_is_sent_to_login_from_the_database_page(anonymous):
    response = anonymous.get("/database/")

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_nav_link_to_the_database_page_only_for_super_admins(as_super_admin, as_admin):
    assert 'href="/database/"' in as_super_admin.get("/").content.decode()
    assert 'href="/database/"' not in as_admin.get("/").content.decode()
