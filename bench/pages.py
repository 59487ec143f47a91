"""Benchmark: every page's server time and SQL at scale, with EXPLAIN of each query.

On a database filled by `manage.py generate_data` (1M jobs, 10M console lines, 1M audit rows),
requests every page through Django's test client as a super_admin: p50/p95 server time over
--repeat requests (after a warm-up), the number of SQL queries, then EXPLAIN of each distinct
SELECT (MySQL/MariaDB), flagging a full scan (type ALL) of jobs, job_logs or audit_logs, or a
plan that must sort or buffer (filesort, temporary) more than 20% of one of them.
Targets: p95 <= 150 ms, no full scan.
Query counts staying constant in data size is asserted by the test suite, page by page.

Run: DATABASE_URL=mysql://root@127.0.0.1:3306/ia_gen .venv/bin/python bench/pages.py
     [--repeat 20] [--only jobs] [--no-write]
"""

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, django_setup  # noqa: E402

django_setup("pages")
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from automation.models import (  # noqa: E402
    Job,
    JobLog,
    Playbook,
    PlaybookVersion,  # noqa: E402
)
from inventory.models import Server  # noqa: E402

BIG_TABLES = ("jobs", "job_logs", "audit_logs")
TARGET_P95_MS = 150
BIG_JOB_LINES = 100_000


def big_job():
    """A job with 100,000 console lines (created once)."""
    job = Job.objects.filter(worker="bench:big").first()
    if job:
        return job
    from devtools.generator import insert

    template = Job.objects.filter(status="success").first()
    job = Job.objects.create(
        playbook=template.playbook,
        server=template.server,
        user=template.user,
        status="success",
        started_at=template.started_at,
        completed_at=template.completed_at,
        worker="bench:big",
        first_error_line=BIG_JOB_LINES // 2,
    )
    for start in range(1, BIG_JOB_LINES + 1, 10_000):
        insert(
            JobLog,
            ["job", "line_number", "content", "log_level", "timestamp"],
            [
                (
                    job.pk,
                    n,
                    f"\x1b[0;32mok: [web{n % 50}] => line {n}\x1b[0m",
                    "ERROR" if n == BIG_JOB_LINES // 2 else "INFO",
                    job.completed_at,
                )
                for n in range(start, min(start + 10_000, BIG_JOB_LINES + 1))
            ],
        )
    return job


def pages():
    playbook = Playbook.objects.filter(jobs__isnull=False).first() or Playbook.objects.first()
    server = Server.objects.first()
    user = User.objects.filter(jobs__isnull=False).first() or User.objects.first()
    version = PlaybookVersion.objects.filter(playbook_id=playbook.pk).order_by("-id").first()
    job = big_job()
    oldest = Job.objects.order_by("created_at", "id").first()
    from automation.forms.jobs import encode_cursor

    return [
        ("dashboard", "/"),
        ("dashboard running", "/dashboard/running/"),
        ("analytics 7 d", "/analytics/?period=7"),
        ("analytics 30 d", "/analytics/?period=30"),
        ("analytics 90 d", "/analytics/?period=90"),
        ("servers", "/servers/"),
        ("server details", f"/servers/{server.pk}/"),
        ("server chart 7 d", f"/servers/{server.pk}/chart/?range=7d"),
        ("jobs", "/jobs/"),
        ("jobs failed", "/jobs/?status=failed"),
        ("jobs by playbook", f"/jobs/?playbook={playbook.pk}"),
        ("jobs by server", f"/jobs/?server={server.pk}"),
        ("jobs by user", f"/jobs/?user={user.pk}"),
        ("jobs date range", "/jobs/?date_from=2026-06-01&date_to=2026-06-07"),
        ("jobs deep page", f"/jobs/?before={encode_cursor(oldest)}"),
        ("job 100k lines", f"/jobs/{job.job_id}/"),
        # A finished job's console answers 286: htmx stops polling (by design).
        ("job log after", f"/jobs/{job.job_id}/log/?after={BIG_JOB_LINES - 500}", 286),
        ("job log before", f"/jobs/{job.job_id}/log/?before={BIG_JOB_LINES // 2}"),
        ("job first error", f"/jobs/{job.job_id}/?from={BIG_JOB_LINES // 2 - 20}"),
        ("playbooks", "/playbooks/"),
        ("playbook", f"/playbooks/{playbook.pk}/"),
        ("playbook history", f"/playbooks/{playbook.pk}/history/"),
        ("playbook diff", f"/playbooks/{playbook.pk}/diff/?to={version.pk}"),
        ("all history", "/playbooks/history/"),
        ("audit", "/audit/"),
        ("audit logins", "/audit/?action=LOGIN"),
        ("audit jobs", "/audit/?resource_type=job"),
        ("users", "/users/"),
        ("database report", "/database/"),
    ]


def table_rows():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()"
        )
        return dict(cursor.fetchall())


def explain(sql, sizes):
    """Problems in the plan of one SELECT: full scans or large reads of the big tables."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [c[0] for c in cursor.description]
        for row in cursor.fetchall():
            plan = dict(zip(columns, row, strict=True))
            table = plan.get("table") or ""
            if table not in BIG_TABLES:
                continue
            rows = int(plan.get("rows") or 0)  # MariaDB reports it as text
            if plan.get("type") == "ALL":
                problems.append(f"full scan of {table}")
            # EXPLAIN's estimate ignores LIMIT: an index read in the wanted order stops after
            # a page. Only a plan that must sort or buffer everything first really reads it.
            elif (
                any(w in (plan.get("Extra") or "") for w in ("filesort", "temporary"))
                and rows > 0.2 * max(sizes.get(table) or 0, 1)
                and (sizes.get(table) or 0) > 10_000
            ):
                problems.append(f"reads ~{rows:,} of {sizes[table]:,} {table} rows")
    return problems


def measure(client, url, repeat, sizes):
    client.get(url)  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    problems = []
    if connection.vendor == "mysql":
        seen = set()
        for query in ctx.captured_queries:
            sql = query["sql"]
            if sql.lstrip().upper().startswith("SELECT") and sql not in seen:
                seen.add(sql)
                problems += explain(sql, sizes)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return response.status_code, len(ctx.captured_queries), statistics.median(times), p95, problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", help="substring of the page names to run")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    args = parser.parse_args()
    if not Job.objects.exists():
        sys.exit("No jobs: fill the database first with manage.py generate_data.")
    # Production-like: no debug query log during the timed requests (CaptureQueriesContext
    # turns it on only for the one counted request); the test client's host is allowed.
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    admin = User.objects.filter(role=User.Role.SUPER_ADMIN, is_active=True).first()
    client = Client()
    client.force_login(admin)
    sizes = table_rows() if connection.vendor == "mysql" else {}
    counts = {t: sizes.get(t) for t in BIG_TABLES}
    header = (
        "| page | status | queries | p50 ms | p95 ms | plan problems | verdict |\n"
        "|---|---|---|---|---|---|---|"
    )
    lines = [header]
    print(f"database: {connection.vendor}; rows (estimates): {counts}")
    print(header)
    misses = 0
    for name, url, *expected in pages():
        if args.only and args.only not in name:
            continue
        status, queries, p50, p95, problems = measure(client, url, args.repeat, sizes)
        ok = status == (expected[0] if expected else 200) and p95 <= TARGET_P95_MS and not problems
        misses += not ok
        line = (
            f"| {name} (`{re.sub(r'[0-9a-f]{8}-[0-9a-f-]{27}', '<uuid>', url)}`) | {status} | "
            f"{queries} | {p50:.0f} | {p95:.0f} | {'; '.join(sorted(set(problems))) or '-'} | "
            f"{'OK' if ok else 'MISS'} |"
        )
        lines.append(line)
        print(line, flush=True)
    print(f"{misses} page(s) miss the targets (p95 <= {TARGET_P95_MS} ms, no full scan).")
    if not args.no_write and not args.only:
        write_results(counts, lines, args.repeat)


def write_results(counts, lines, repeat):
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text()
    section = (
        "## pages\n\n"
        f"`bench/pages.py` on MariaDB filled by `generate_data` (rows, estimated: "
        f"{', '.join(f'{t} {n:,}' for t, n in counts.items() if n)}); {repeat} requests per page "
        "after a warm-up, server time through Django's test client as a super_admin; EXPLAIN of "
        "every distinct SELECT. Targets: p95 <= 150 ms, no full scan of jobs, job_logs or "
        "audit_logs.\n\n" + "\n".join(lines) + "\n"
    )
    if "## pages\n" in text:
        start = text.index("## pages\n")
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[end:] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
