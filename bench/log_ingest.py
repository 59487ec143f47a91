"""Benchmark: console ingestion. A playbook printing 20,000 lines through the platform vs bare
ansible-playbook (target wall ratio <= 1.10), lines stored per second, and the worker's peak RSS
for 1,000 lines vs each larger size in ``--lines`` (default 100,000 and 1,000,000; target
growth <= 50 MB). Each platform run happens in a fresh worker process (`--worker JOB_PK`) so
its peak RSS is its own.
Run: .venv/bin/python bench/log_ingest.py [--lines N ...] [--no-ratio]
(DATABASE_URL optional; default a scratch SQLite)
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
    )
    if out.returncode:
        sys.exit(f"worker failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    result["lines"] = JobLog.objects.filter(job=job).count()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", type=int)
    parser.add_argument(
        "--lines", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes vs 1,000"
    )
    parser.add_argument("--no-ratio", action="store_true", help="skip the 20,000-line timing")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    if not args.no_ratio:
        bare = bare_run(lines_playbook(20_000), runs=3)
        runs = [platform_run(20_000) for _ in range(3)]
        platform = sorted(r["seconds"] for r in runs)[1]
        ratio = platform / bare
        print(
            f"20,000 lines: bare {bare:.2f} s, platform {platform:.2f} s, ratio {ratio:.2f} "
            f"(target <= 1.10) {'OK' if ratio <= 1.10 else 'MISS'}"
        )
        print(
            f"lines stored: {runs[0]['lines']:,} in {platform:.2f} s = "
            f"{runs[0]['lines'] / platform:,.0f} lines/s"
        )
    small = platform_run(1_000)
    print(f"1,000 lines: worker peak RSS {small['rss_mb']:.0f} MB")
    for count in args.lines:
        large = platform_run(count)
        growth = large["rss_mb"] - small["rss_mb"]
        print(
            f"{count:,} lines: {large['lines']:,} stored in {large['seconds']:.2f} s = "
            f"{large['lines'] / large['seconds']:,.0f} lines/s; worker peak RSS "
            f"{large['rss_mb']:.0f} MB, growth {growth:.0f} MB over 1k (target <= 50 MB) "
            f"{'OK' if growth <= 50 else 'MISS'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
