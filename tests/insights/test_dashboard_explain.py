"""On MariaDB/MySQL: every query of the dashboard and analytics pages ranges over an index,
never a full scan of jobs, job_logs or audit_logs (checked with EXPLAIN)."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from auditing.models import AuditLog
from automation.models import Job
from insights.rollup import rebuild_audit_stats, rebuild_job_stats
from tests.factories import PlaybookFactory, ServerFactory

# ANALYZE TABLE commits on MySQL: run in a real transaction, the tables are flushed after.
pytestmark = pytest.mark.django_db(transaction=True)
BIG_TABLES = {"jobs", "job_logs", "audit_logs"}
PAGES = [
    "/",
    "/dashboard/running/",
    "/analytics/?period=7",
    "/analytics/",
    "/analytics/?period=90",
    # The jobs list read its page joined to servers: MariaDB then sorted every job (48 s at
    # 440k jobs). The nested-loop estimate below catches that shape.
    "/jobs/",
    "/jobs/?date_from=2025-01-01&date_to=2025-01-31",
]


@pytest.fixture
def two_years_of_data(admin):
    """4,000 jobs and 4,000 audit rows spread over two years, so a period is a small slice."""
    if connection.vendor != "mysql":
        pytest.skip("EXPLAIN plans are checked on MariaDB/MySQL only")
    rng = random.Random(7)
    now = timezone.now()
    playbooks = [PlaybookFactory() for _ in range(4)]
    servers = [ServerFactory() for _ in range(6)]
    # Mostly finished jobs, a few live ones, as in real life.
    statuses = ["success"] * 70 + ["failed"] * 20 + ["cancelled"] * 7 + ["running", "pending"] * 2
    jobs = []
    for i in range(4000):
        created = now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
        status = rng.choice(statuses)
        finished = status in Job.FINISHED
        jobs.append(
            Job(
                playbook=rng.choice(playbooks),
                server=rng.choice(servers),
                user=admin,
                status=status,
                created_at=created,
                started_at=created + timedelta(seconds=2) if status != "pending" else None,
                completed_at=created + timedelta(seconds=rng.randrange(3, 900))
                if finished
                else None,
                error_message=f"failed on host{i % 9}.example.net" if status == "failed" else "",
                playbook_sha256=f"{i % 3:064d}",
            )
        )
    Job.objects.bulk_create(jobs, batch_size=1000)
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                user=admin if i % 3 else None,
                action=rng.choice(["LOGIN", "UPDATE", "RUN"]),
                timestamp=now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)),
            )
            for i in range(4000)
        ],
        batch_size=1000,
    )
    rebuild_job_stats()
    rebuild_audit_stats()  # as manage.py rebuild_job_stats does after a bulk import
    with connection.cursor() as cursor:
        for table in ("jobs", "audit_logs", "job_daily_stats", "job_activity_stats"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()


def explain(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_page_queries_use_index_ranges_on_big_tables(as_admin, two_years_of_data):
    problems = []
    for url in PAGES:
        with CaptureQueriesContext(connection) as captured:
            assert as_admin.get(url).status_code == 200
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
        assert any("`jobs`" in sql or "job_" in sql for sql in selects), url
        for sql in selects:
            reads = 1  # nested-loop estimate: rows of each table times the rows before it
            for row in explain(sql):
                reads *= max(int(row["rows"] or 1), 1)
                if row["table"] not in BIG_TABLES:
                    continue
                if row["type"] == "ALL":
                    problems.append(f"{url}: full table scan of {row['table']}: {sql}")
                # However it gets there, no query may read a large share of a big table (the
                # seed spans two years; the longest period is 90 days, about 12 %).
                if reads > 0.2 * 4000:
                    problems.append(f"{url}: reads ~{reads} rows of {row['table']}: {sql}")
                # A full index walk is fine only to read the first rows of ORDER BY ... LIMIT.
                if row["type"] == "index" and "LIMIT" not in sql:
                    problems.append(f"{url}: full index scan of {row['table']}: {sql}")
    assert not problems, "\n".join(problems)
