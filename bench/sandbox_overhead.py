"""Benchmark: what the sandbox adds to a job, and how a job compares with bare ansible-playbook.

Three kinds of run, interleaved round by round so load drifts hit them alike:
- bare:     plain `ansible-playbook` on localhost (local connection), its wall time;
- platform: a job launched and run by the worker code with the sandbox on (bubblewrap, clean
            environment, RUNNER_USER when root), timed from the committed launch to success with
            every line stored;
- unconfined: the same with RUNNER_SANDBOX=off.
The job runs in this process (the task a qcluster worker would run), so the dispatch delay of
the broker is left out: bench/job_overhead.py measures that. Prints medians with min-max, the
sandbox's added cost per job (target < 0.1 s) and the load average.

Run: .venv/bin/python bench/sandbox_overhead.py [--rounds N]  (as root, as the worker would run)
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

django_setup("sandbox")
from _jobs import bare_run, demo_objects  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402

from automation.models import Job  # noqa: E402
from automation.services.playbooks import playbook_create  # noqa: E402
from automation.tasks import run_job  # noqa: E402

PLAYBOOK = "- name: Five tasks\n  hosts: all\n  gather_facts: false\n  tasks:\n" + "".join(
    f"    - name: Task {i}\n      ansible.builtin.debug:\n        msg: step {i}\n"
    for i in range(1, 6)
)


def job_run(playbook, server, user, sandbox):
    settings.RUNNER_SANDBOX = "bwrap" if sandbox else "off"
    with transaction.atomic():
        # The worker's enqueue is replaced by running its task right here, after the commit.
        job = Job.objects.create(playbook=playbook, server=server, user=user)
    started = time.monotonic()
    run_job(job.pk)
    wall = time.monotonic() - started
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert job.logs.count() > 20
    return wall


def start_cost(runs=30):
    """Wall time of `true` started the way a job starts ansible-playbook, sandboxed and not
    (interleaved): the fixed cost of setting the sandbox up and tearing it down."""
    import subprocess
    import tempfile

    from automation.runner import sandbox

    confined, unconfined = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "home").mkdir()
        settings.RUNNER_SANDBOX = "bwrap"
        sandbox.hand_over(workdir)
        for _ in range(runs):
            for mode, times in (("bwrap", confined), ("off", unconfined)):
                settings.RUNNER_SANDBOX = mode
                command = sandbox.wrap(["true"], workdir=workdir)
                env = sandbox.environment({}, workdir=workdir)
                started = time.monotonic()
                subprocess.run(command, env=env, check=True)
                times.append(time.monotonic() - started)
    return confined, unconfined


def summary(values):
    return f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    user, server = demo_objects()
    playbook = playbook_create(
        name=f"bench-{time.time()}", description="", content=PLAYBOOK, user=None
    )
    job_run(playbook, server, user, sandbox=True)  # warm-up: imports, probe, page cache
    bare, confined, unconfined = [], [], []
    for _ in range(args.rounds):
        bare.append(bare_run(PLAYBOOK, runs=1))
        confined.append(job_run(playbook, server, user, sandbox=True))
        unconfined.append(job_run(playbook, server, user, sandbox=False))
    added = [on - off for on, off in zip(confined, unconfined, strict=True)]
    start_on, start_off = start_cost()
    print(f"rounds: {args.rounds}, interleaved; load average {os.getloadavg()}")
    print(f"bare ansible-playbook:        {summary(bare)}")
    print(f"job, sandbox on:              {summary(confined)}")
    print(f"job, sandbox off:             {summary(unconfined)}")
    print(f"sandbox cost per job (pairs): {summary(added)} (target < 0.100 s)")
    print(f"start of `true`, sandboxed:   {summary(start_on)}")
    print(f"start of `true`, unconfined:  {summary(start_off)}")
    print(
        f"job/bare ratio, sandbox on:   "
        f"{statistics.median(confined) / statistics.median(bare):.2f}"
    )


if __name__ == "__main__":
    main()
