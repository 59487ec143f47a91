"""The jobs list filtered by server: single-server jobs (jobs.server_id) and multi-host jobs
(job_hosts) merged newest first, paged by keyset cursors, each side one index range (EXPLAIN on
MariaDB), in a fixed number of queries."""

import random
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation.models import Job, JobHost
from automation.selectors.jobs import job_list
from core.forms import TimeCursorField
from tests.factories import PlaybookFactory, ServerFactory

BIG_TABLES = {"jobs", "job_hosts"}
JOBS = 3000


def make_jobs(user, count=JOBS, seed=3):
    """``count`` jobs over a year: half on one server, half on three of twelve servers."""
    rng = random.Random(seed)
    now = timezone.now()
    playbook = PlaybookFactory()
    servers = [ServerFactory() for _ in range(12)]
    jobs = []
    for i in range(count):
        created = now - timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        single = i % 2 == 0
        jobs.append(
            Job(
                playbook=playbook,
                server=rng.choice(servers) if single else None,
                user=user,
                status="success",
                created_at=created,
            )
        )
    Job.objects.bulk_create(jobs, batch_size=1000)
    hosts = []
    for job in Job.objects.filter(server=None).only("id", "created_at"):
        for server in rng.sample(servers, 3):
            hosts.append(
                JobHost(job=job, server=server, hostname=server.hostname, created_at=job.created_at)
            )
    JobHost.objects.bulk_create(hosts, batch_size=1000)
    return servers


def expected_ids(server):
    single = set(Job.objects.filter(server=server).values_list("pk", flat=True))
    multi = set(JobHost.objects.filter(server=server).values_list("job_id", flat=True))
    ordered = Job.objects.filter(pk__in=single | multi).order_by("-created_at", "-id")
    return list(ordered.values_list("pk", flat=True))


@pytest.mark.django_db
def test_pages_of_jobs_on_a_server_merge_both_kinds_newest_first(admin):
    servers = make_jobs(admin, count=400)
    server = servers[0]
    wanted = expected_ids(server)
    seen, cursor = [], None
    field = TimeCursorField()
    while True:
        page = job_list(server=server, before=field.clean(cursor) if cursor else None, size=20)
        seen += [job.pk for job in page.rows]
        if not page.older:
            break
        cursor = page.older
    assert seen == wanted
    # And back towards the newest: the page newer than the second is the first.
    first = job_list(server=server, size=20)
    second = job_list(server=server, before=field.clean(first.older), size=20)
    back = job_list(server=server, after=field.clean(second.newer), size=20)
    assert [job.pk for job in back.rows] == [job.pk for job in first.rows]
    assert back.newer is None and back.older


@pytest.mark.django_db
def test_the_list_by_server_costs_a_fixed_number_of_queries(as_user, admin):
    servers = make_jobs(admin, count=200)
    with CaptureQueriesContext(connection) as few:
        as_user.get(f"/jobs/?server={servers[0].pk}")
    make_jobs(admin, count=400, seed=4)
    with CaptureQueriesContext(connection) as more:
        assert as_user.get(f"/jobs/?server={servers[0].pk}").status_code == 200
    assert len(more.captured_queries) == len(few.captured_queries) <= 12


def explain(sql):
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_jobs_on_a_server_are_index_ranges_of_jobs_and_job_hosts(as_admin, admin):
    if connection.vendor != "mysql":
        pytest.skip("EXPLAIN plans are checked on MariaDB/MySQL only")
    servers = make_jobs(admin)
    with connection.cursor() as cursor:
        for table in ("jobs", "job_hosts"):
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()
    problems = []
    for url in (f"/jobs/?server={servers[0].pk}", f"/jobs/?server={servers[1].pk}&status=success"):
        with CaptureQueriesContext(connection) as captured:
            assert as_admin.get(url).status_code == 200
        selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
        assert any("`job_hosts`" in sql for sql in selects)
        for sql in selects:
            reads = 1
            for row in explain(sql):
                reads *= max(int(row["rows"] or 1), 1)
                if row["table"] not in BIG_TABLES:
                    continue
                if row["type"] == "ALL":
                    problems.append(f"{url}: full table scan of {row['table']}: {sql}")
                if reads > 0.2 * JOBS * 2:
                    problems.append(f"{url}: reads ~{reads} rows of {row['table']}: {sql}")
    assert not problems, "\n".join(problems)
