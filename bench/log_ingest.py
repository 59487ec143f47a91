"""Benchmark: console ingestion. A playbook printing 20,000 lines through the platform vs bare
ansible-playbook (target wall ratio <= 1.10), lines stored per second, and the worker's peak RSS
for 1,000 vs 100,000 lines (target growth <= 50 MB). Each platform run happens in a fresh
worker process (`--worker JOB_PK`) so its peak RSS is its own.
Run: .venv/bin/python bench/log_ingest.py   (DATABASE_URL optional; default a scratch SQLite)
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

if "--worker" in sys.argv:  # child: reuse the parent's database and directories
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra_automation.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
else:
    django_setup("ingest")

from _jobs import ROOT, bare_run, demo_objects, worker_env  # noqa: E402


def lines_playbook(count):
    return (
        "- name: Print lines\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - ansible.builtin.command: seq 1 {count}\n"
        "      register: out\n      changed_when: false\n"
        "    - ansible.builtin.debug:\n        var: out.stdout_lines\n"
    )


def worker(job_pk):
    from automation.tasks import run_job

    started = time.monotonic()
    run_job(job_pk)
    print(
        json.dumps(
            {
                "seconds": time.monotonic() - started,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def platform_run(count):
    from automation.models import Job, JobLog
    from automation.services.playbooks import playbook_create

    user, server = demo_objects()
    playbook = playbook_create(
        name=f"lines-{count}-{time.time()}",
        description="",
        content=lines_playbook(count),
        user=None,
    )
    job = Job.objects.create(playbook=playbook, server=server, user=user)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", str(job.pk)],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    result["lines"] = JobLog.objects.filter(job=job).count()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=int)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    bare = bare_run(lines_playbook(20_000), runs=3)
    runs = [platform_run(20_000) for _ in range(3)]
    platform = sorted(r["seconds"] for r in runs)[1]
    ratio = platform / bare
    small, large = platform_run(1_000), platform_run(100_000)
    growth = large["rss_mb"] - small["rss_mb"]
    print(
        f"20,000 lines: bare {bare:.2f} s, platform {platform:.2f} s, ratio {ratio:.2f} "
        f"(target <= 1.10) {'OK' if ratio <= 1.10 else 'MISS'}"
    )
    print(
        f"lines stored: {runs[0]['lines']:,} in {platform:.2f} s = "
        f"{runs[0]['lines'] / platform:,.0f} lines/s"
    )
    print(
        f"100,000 lines: {large['lines']:,} stored in {large['seconds']:.2f} s = "
        f"{large['lines'] / large['seconds']:,.0f} lines/s"
    )
    print(
        f"worker peak RSS: {small['rss_mb']:.0f} MB at 1k lines, {large['rss_mb']:.0f} MB at 100k "
        f"lines, growth {growth:.0f} MB (target <= 50 MB) {'OK' if growth <= 50 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
