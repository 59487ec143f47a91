"""Scaling out as the README says: two `manage.py worker` clusters sharing a Redis broker (a private
redis-server started here, never the machine's shared one) and the database. Jobs spread over
both, none runs twice, and a worker killed mid-job gets its job failed by the reaper while the
other goes on."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django_q.conf import Conf

from automation.models import Job, JobLog
from automation.services.jobs import job_directories, job_launch
from automation.services.playbooks import playbook_create
from inventory.models import Server
from tests.factories import ServerFactory
from tests.redis import RedisServer
from tests.worker import ROOT, stop_qcluster, wait_for, worker_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

@pytest.fixture
def redis_url(tmp_path, monkeypatch):
    """A private redis-server; this process enqueues to it too."""
    server = RedisServer(tmp_path)
    url = server.start()
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    yield url
    server.stop()


@pytest.fixture
def clusters(redis_url, tmp_path):
    """Two one-process clusters on the same Redis queue and database."""
    started = []
    for n in (1, 2):
        log = open(tmp_path / f"qcluster-{n}.log", "wb")  # noqa: SIM115 - closed by stop_qcluster
        process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env={**worker_env(), "REDIS_URL": redis_url},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log = log
        started.append(process)
    yield started
    for process in started:
        stop_qcluster(process)


@pytest.fixture
def local(db):
    return ServerFactory(hostname="localhost", connection=Server.Connection.LOCAL)


def playbook(name, task):
    content = f"- hosts: all\n  gather_facts: false\n  tasks:\n    - {task}\n"
    return playbook_create(name=name, description="", content=content, user=None)


def test_jobs_spread_over_two_workers_and_none_runs_twice(clusters, local, super_admin):
    slow = playbook("Slow", "ansible.builtin.pause: {seconds: 1}")
    jobs = [job_launch(playbook=slow, server=local, user=super_admin) for _ in range(6)]
    wait_for(lambda: all(Job.objects.get(pk=j.pk).is_finished for j in jobs), timeout=120)
    finished = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert {j.status for j in finished} == {Job.Status.SUCCESS}
    assert len({j.worker for j in finished}) == 2  # both clusters took jobs
    for job in finished:  # each ran once: one play, one recap
        assert JobLog.objects.filter(job=job, content__contains="PLAY RECAP").count() == 1


def test_a_worker_killed_mid_job_is_reaped_while_the_other_keeps_working(
    clusters, local, super_admin
):
    marker = "73.3131"
    long = playbook("Long", f"ansible.builtin.command: sleep {marker}")
    job = job_launch(playbook=long, server=local, user=super_admin)
    wait_for(
        lambda: JobLog.objects.filter(job=job, content__contains="TASK [").exists(), timeout=60
    )
    job.refresh_from_db()
    worker_pid = int(job.worker.split(":")[1])  # host:pid:token
    os.kill(worker_pid, signal.SIGKILL)
    # Its cluster starts a new worker process, whose start runs the reaper.
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.FAILED, timeout=60)
    job.refresh_from_db()
    assert job.error_message.startswith("worker lost")
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True)
    assert left.returncode == 1, left.stdout  # the sandbox died with its worker
    # Nor any process of that job (bwrap, ansible-playbook, ssh: all name its directory), and
    # the reaper removed the directory with the extra vars in it.
    of_job = subprocess.run(["pgrep", "-f", f"job-{job.job_id}"], capture_output=True)
    assert of_job.returncode == 1, of_job.stdout
    assert not job_directories(job)

    quick = playbook("Quick", "ansible.builtin.ping:")
    after = [job_launch(playbook=quick, server=local, user=super_admin) for _ in range(2)]
    wait_for(lambda: all(Job.objects.get(pk=j.pk).is_finished for j in after), timeout=60)
    assert {Job.objects.get(pk=j.pk).status for j in after} == {Job.Status.SUCCESS}
