"""Workers announce themselves, lost ones are noticed wherever they ran, and a stop always ends:
real `manage.py worker` processes, real signals, real playbooks."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from automation.models import Job, JobLog, WorkerHeartbeat
from automation.services.jobs import job_launch, jobs_reap
from automation.services.playbooks import playbook_create
from inventory.models import Server
from tests.factories import JobFactory, ServerFactory
from tests.worker import ROOT, start_qcluster, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def local(db):
    return ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)


@pytest.fixture
def worker_process(transactional_db, settings, monkeypatch):
    """A `manage.py worker` that beats every half second; stopped (if still running) after."""
    monkeypatch.setenv("WORKER_HEARTBEAT_SECONDS", "0.5")
    process = start_qcluster(Path(settings.PLAYBOOKS_DIR).parent / "worker.log")
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    process.log.close()


def sleeper(local, user, marker):
    playbook = playbook_create(
        name=f"Sleep {marker}",
        description="",
        content="- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - name: Long sleep\n      ansible.builtin.command: sleep {marker}\n",
        user=None,
    )
    job = job_launch(playbook=playbook, server=local, user=user)
    wait_for(
        lambda: JobLog.objects.filter(job=job, content__contains="TASK [Long sleep]").exists(),
        timeout=60,
    )
    return job


def still_running(marker):
    return subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 0


def test_a_worker_announces_itself_and_keeps_beating(worker_process):
    beat = wait_for(lambda: WorkerHeartbeat.objects.first(), timeout=30)
    host, pid, token = beat.name.split(":")
    assert beat.hostname == host and beat.pid == int(pid) and len(token) == 12
    assert beat.cluster.endswith(f":{worker_process.pid}")
    first = beat.last_seen
    wait_for(lambda: WorkerHeartbeat.objects.get(pk=beat.pk).last_seen > first, timeout=10)


def test_the_reaper_fails_jobs_whose_worker_went_silent_wherever_it_ran(db, tmp_path):
    now = timezone.now()
    silent = WorkerHeartbeat.objects.create(
        name="other-container:41:aaaaaaaaaaaa", hostname="other-container", pid=41,
        last_seen=now - timedelta(minutes=2),
    )
    alive = WorkerHeartbeat.objects.create(
        name="other-container:41:bbbbbbbbbbbb", hostname="other-container", pid=41,
        last_seen=now,
    )
    lost = JobFactory(status=Job.Status.RUNNING, worker=silent.name, started_at=now)
    kept = JobFactory(status=Job.Status.RUNNING, worker=alive.name, started_at=now)
    leftover = Path(os.environ.get("TMPDIR", "/tmp")) / f"job-{lost.job_id}-test"  # noqa: S108
    leftover.mkdir()
    (leftover / "env").mkdir()

    assert [job.pk for job in jobs_reap(now=now)] == [lost.pk]
    lost.refresh_from_db()
    kept.refresh_from_db()
    assert lost.status == Job.Status.FAILED
    assert lost.error_message == (
        f"worker lost: its worker ({silent.name}) has not reported for over 30 s"
    )
    assert kept.status == Job.Status.RUNNING
    assert not leftover.exists()


def test_the_reaper_forgets_workers_gone_for_a_day(db):
    WorkerHeartbeat.objects.create(
        name="h:1:cccccccccccc", hostname="h", pid=1, last_seen=timezone.now() - timedelta(days=2)
    )
    call_command("reap_jobs", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.slow
def test_sigterm_cancels_running_jobs_after_the_grace_and_exits(
    worker_process, local, super_admin
):
    marker = "81.2121"
    job = sleeper(local, super_admin, marker)
    started = time.monotonic()
    worker_process.send_signal(signal.SIGTERM)
    assert worker_process.wait(timeout=40) == 0
    assert time.monotonic() - started < 2 + 10  # the grace (2 s here), the cancel, the exit
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert job.error_message == "Cancelled: the worker stopped."
    assert not still_running(marker)
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.slow
@pytest.mark.parametrize("attempt", [1, 2])
def test_sigterm_to_the_whole_process_group_never_hangs(
    worker_process, local, super_admin, attempt
):
    marker = f"82.{attempt}313"
    job = sleeper(local, super_admin, marker)
    os.killpg(worker_process.pid, signal.SIGTERM)  # what a supervisor killing the group does
    worker_process.wait(timeout=40)  # no hang, and no zombie: this is its parent, it reaped it
    job.refresh_from_db()
    assert job.is_finished and "the worker stopped" in job.error_message
    time.sleep(0.5)
    assert not still_running(marker)


def test_a_worker_refuses_to_start_on_an_older_schema(tmp_path):
    env = {**worker_env(), "DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite3'}"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "automation", "0005"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "schema is older than this release" in done.stderr
    assert "run `manage.py migrate` before starting workers" in done.stderr
