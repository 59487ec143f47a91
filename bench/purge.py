"""Benchmark: purge half of a 2,000,000-line job_logs table with purge_job_logs.

    DATABASE_URL=mysql://root@127.0.0.1:3306/ia_i8 .venv/bin/python bench/purge.py

Defaults to the MariaDB database ``ia_i8`` (the maintenance work's own database) when
DATABASE_URL is not set. It migrates that database, EMPTIES ITS job_logs TABLE, and fills it with
``--rows`` lines (half older than the 90-day retention, half new, ids growing with time as in real
use) plus 1,000 old lines of a running job that must survive. Rows are inserted fast: a seed by
executemany, then INSERT ... SELECT doubling. It then runs the real command and prints rows/s
(target >= 50,000) and the longest single batch (target <= 1 s).
"""

import argparse
import os
import sys
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "mysql://root@127.0.0.1:3306/ia_i8")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra_automation.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

SEED_JOBS = 100
SEED_LINES = 10
LINE = "ok: [web01.example.net] => (item=package-%05d) changed=false rc=0 elapsed=0.12s"


def fill(total_old, total_new, now):
    """Insert the rows; returns (finished jobs, running job)."""
    from automation import storage
    from automation.models import Job, JobLog, Playbook
    from inventory.models import Server

    qn = connection.ops.quote_name
    JobLog.objects.all()._raw_delete(connection.alias)  # the bench owns this database's logs
    playbook, _ = Playbook.objects.get_or_create(
        name="bench purge", defaults={"file_path": storage.write("- hosts: all\n  tasks: []\n")}
    )
    server, _ = Server.objects.get_or_create(
        hostname="bench-purge.example.net", defaults={"ip_address": "10.99.0.1"}
    )
    Job.objects.filter(playbook=playbook).delete()
    jobs = Job.objects.bulk_create(
        Job(playbook=playbook, server=server, status=Job.Status.SUCCESS) for _ in range(SEED_JOBS)
    )
    running = Job.objects.create(playbook=playbook, server=server, status=Job.Status.RUNNING)
    old = connection.ops.adapt_datetimefield_value(now - timedelta(days=200))
    fresh = connection.ops.adapt_datetimefield_value(now)
    columns = "job_id, line_number, content, log_level, " + qn("timestamp")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO job_logs ({columns}) VALUES (%s, %s, %s, 'INFO', %s)",  # noqa: S608
            [(job.pk, n, LINE % n, old) for job in jobs for n in range(1, SEED_LINES + 1)],
        )
        count, top = SEED_JOBS * SEED_LINES, SEED_LINES
        while count < total_old:  # double the old rows, each copy numbered after the last
            take = min(count, total_old - count)
            cursor.execute(
                f"INSERT INTO job_logs ({columns}) SELECT job_id, line_number + %s, content,"  # noqa: S608
                f" log_level, {qn('timestamp')} FROM job_logs ORDER BY id LIMIT %s",
                [top, take],
            )
            count += take
            top *= 2
        # The new half: later ids, today's timestamps.
        cursor.execute(
            f"INSERT INTO job_logs ({columns}) SELECT job_id, line_number + %s, content,"  # noqa: S608
            f" log_level, %s FROM job_logs ORDER BY id LIMIT %s",
            [top, fresh, total_new],
        )
        cursor.executemany(
            f"INSERT INTO job_logs ({columns}) VALUES (%s, %s, 'running job line', 'INFO', %s)",  # noqa: S608
            [(running.pk, n, old) for n in range(1, 1001)],
        )
    return jobs, running


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    from auditing.models import AuditLog
    from automation.models import JobLog

    call_command("migrate", verbosity=0)
    now = timezone.now()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    started = time.monotonic()
    _, running = fill(args.rows // 2, args.rows - args.rows // 2, now)
    print(
        f"inserted {JobLog.objects.count():,} job_logs rows in {time.monotonic() - started:.1f} s"
    )

    out = StringIO()
    started = time.monotonic()
    call_command("purge_job_logs", "--days", "90", "--batch-size", str(args.batch_size), stdout=out)
    wall = time.monotonic() - started
    run = AuditLog.objects.filter(action=AuditLog.Action.PURGE, resource_type="job_logs").latest(
        "timestamp"
    )
    deleted, batches = run.details["deleted"], run.details["batches"]
    longest = run.details["longest_batch_seconds"]
    rate = deleted / wall
    kept_running = JobLog.objects.filter(job=running).count()
    print(out.getvalue().strip().splitlines()[-1])
    print(f"deleted {deleted:,} rows in {wall:.2f} s, {batches} batches of {args.batch_size}")
    print(f"rows/s: {rate:,.0f} (target >= 50,000): {'MET' if rate >= 50_000 else 'MISSED'}")
    print(f"longest batch: {longest:.3f} s (target <= 1 s): {'MET' if longest <= 1 else 'MISSED'}")
    print(
        f"remaining rows: {JobLog.objects.count():,}; running job's old lines kept: "
        f"{kept_running:,} of 1,000"
    )


if __name__ == "__main__":
    main()
