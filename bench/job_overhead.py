"""Benchmark: the same 5-task playbook through the platform vs bare ansible-playbook.

Platform = launch (commit) -> a real qcluster worker (ORM broker) runs it -> success with every
line stored. Prints the wall ratio (target <= 1.15) and the dispatch latency commit -> running
(target median <= 1 s). Run: .venv/bin/python bench/job_overhead.py [--runs N]
(DATABASE_URL optional; default a scratch SQLite).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

django_setup("jobs")
from _jobs import QCluster, bare_run, demo_objects  # noqa: E402
from django.db import transaction  # noqa: E402

from automation.models import Job  # noqa: E402
from automation.services.jobs import job_launch  # noqa: E402
from automation.services.playbooks import playbook_create  # noqa: E402

PLAYBOOK = "- name: Five tasks\n  hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
    f"    - name: Task {i}\n      ansible.builtin.debug:\n        msg: step {i}\n"
    for i in range(1, 6)
)


def platform_run(playbook, server, user):
    with transaction.atomic():
        job = job_launch(playbook=playbook, server=server, user=user)
    committed = time.time()
    started = time.monotonic()
    while True:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.02)
    wall = time.monotonic() - started
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert job.logs.count() > 20
    return wall, job.started_at.timestamp() - committed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    user, server = demo_objects()
    playbook = playbook_create(
        name=f"bench-{time.time()}", description="", content=PLAYBOOK, user=None
    )
    bare = bare_run(PLAYBOOK, runs=args.runs)
    with QCluster():
        platform_run(playbook, server, user)  # warm-up
        results = [platform_run(playbook, server, user) for _ in range(args.runs)]
    walls, latencies = zip(*results, strict=True)
    platform = statistics.median(walls)
    ratio = platform / bare
    latency = statistics.median(latencies)
    print(f"bare ansible-playbook (median of {args.runs}): {bare:.2f} s")
    print(f"platform launch -> success (median of {args.runs}): {platform:.2f} s")
    print(f"wall ratio: {ratio:.2f} (target <= 1.15) {'OK' if ratio <= 1.15 else 'MISS'}")
    print(
        f"dispatch latency commit -> running: median {latency:.2f} s, max {max(latencies):.2f} s "
        f"(target median <= 1 s) {'OK' if latency <= 1 else 'MISS'}"
    )


if __name__ == "__main__":
    main()
