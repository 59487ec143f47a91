"""Real ansible-playbook runs through the runner: no mocked Ansible."""

import subprocess
import time

import pytest
from django.core.management import call_command

from automation.models import Job, JobLog
from automation.services.jobs import job_launch
from automation.services.playbooks import sha256_text
from automation.tasks import run_job
from tests.automation.conftest import tasks_yaml, wait_for
from tests.factories import JobFactory, ServerFactory
from tests.sshd import free_port

pytestmark = pytest.mark.django_db


def console(job):
    return list(
        JobLog.objects.filter(job=job)
        .order_by("line_number")
        .values_list("line_number", "content", "log_level")
    )


def test_local_playbook_succeeds_with_every_line_stored_in_order(
    launch, localhost, make_playbook, super_admin
):
    content = tasks_yaml(
        'name: Say hello\n      ansible.builtin.debug: {msg: "hello from the test"}',
        "name: Ping\n      ansible.builtin.ping:",
    )
    playbook = make_playbook(content)
    job = launch(playbook=playbook, server=localhost, user=super_admin)
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert job.rc == 0 and job.error_message == "" and job.task_id
    assert job.started_at and job.completed_at and job.worker
    assert job.playbook_sha256 == sha256_text(content)
    assert job.stats["localhost"]["ok"] == 2 and job.stats["localhost"]["failed"] == 0
    lines = console(job)
    assert [n for n, _, _ in lines] == list(range(1, len(lines) + 1))
    text = "\n".join(c for _, c, _ in lines)
    assert (
        text.index("TASK [Say hello]")
        < text.index("hello from the test")
        < text.index("TASK [Ping]")
        < text.index("PLAY RECAP")
    )
    assert "\x1b[" in text  # colours kept for the console


def test_failing_task_gives_failed_error_lines_and_a_clear_message(
    launch, localhost, make_playbook, super_admin
):
    playbook = make_playbook(
        tasks_yaml('name: Break things\n      ansible.builtin.fail: {msg: "disk is full"}')
    )
    job = launch(playbook=playbook, server=localhost, user=super_admin)
    assert job.status == Job.Status.FAILED and job.rc != 0
    assert job.error_message == "Task 'Break things' failed on host localhost: disk is full"
    errors = [c for _, c, level in console(job) if level == "ERROR"]
    assert errors and "disk is full" in errors[0]
    assert (
        job.first_error_line
        == JobLog.objects.filter(job=job, log_level="ERROR")
        .order_by("line_number")
        .first()
        .line_number
    )
    assert job.stats["localhost"]["failed"] == 1


def test_run_over_ssh_against_the_real_sshd(launch, sshd, make_playbook, admin, settings):
    server = ServerFactory(
        hostname="loopback.test",
        ip_address=sshd.host,
        ssh_port=sshd.port,
        ssh_user=sshd.user,
        ssh_key_path=sshd.key_name,
    )
    playbook = make_playbook(
        tasks_yaml(
            "name: Remote echo\n      ansible.builtin.command: echo remote-ok\n      register: out",
            "ansible.builtin.debug: {var: out.stdout}",
        )
    )
    job = launch(playbook=playbook, server=server, user=admin)
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert job.stats["loopback.test"]["ok"] == 2
    assert any("remote-ok" in c for _, c, _ in console(job))
    assert (
        f"[{sshd.host}]:{sshd.port}" in settings.SSH_KNOWN_HOSTS.read_text()
    )  # trusted on first use


def test_unreachable_host_fails_with_a_clear_message(launch, sshd, make_playbook, admin):
    server = ServerFactory(
        hostname="gone.test",
        ip_address="127.0.0.1",
        ssh_port=free_port(),
        ssh_key_path=sshd.key_name,
    )
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")), server=server, user=admin
    )
    assert job.status == Job.Status.FAILED
    assert job.error_message.startswith("Host gone.test refused the connection")
    assert job.stats["gone.test"]["unreachable"] == 1
    assert any(level == "ERROR" and "UNREACHABLE" in c for _, c, level in console(job))


def test_check_mode_changes_nothing(launch, sshd, make_playbook, admin, tmp_path):
    # On the target (the loopback sshd): a local run only ever writes inside its sandbox.
    server = ServerFactory(
        hostname="loopback.test",
        ip_address=sshd.host,
        ssh_port=sshd.port,
        ssh_user=sshd.user,
        ssh_key_path=sshd.key_name,
    )
    target = tmp_path / "created-by-playbook.txt"
    playbook = make_playbook(
        tasks_yaml(f"ansible.builtin.copy: {{content: hello, dest: {target}}}")
    )
    job = launch(playbook=playbook, server=server, user=admin, check_mode=True)
    assert job.status == Job.Status.SUCCESS and job.check_mode, job.error_message
    assert job.stats["loopback.test"]["changed"] == 1  # it would change...
    assert not target.exists()  # ...but did not
    real = launch(playbook=playbook, server=server, user=admin)
    assert real.status == Job.Status.SUCCESS and target.read_text() == "hello"


def test_a_second_delivery_of_the_same_task_does_nothing(
    launch, localhost, make_playbook, super_admin
):
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        server=localhost,
        user=super_admin,
    )
    lines = JobLog.objects.filter(job=job).count()
    assert run_job(job.pk) == "skipped"
    assert JobLog.objects.filter(job=job).count() == lines


def test_a_job_cancelled_before_it_starts_never_runs(db, localhost, make_playbook, super_admin):
    job = JobFactory(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        server=localhost,
        user=super_admin,
    )
    assert job.request_cancel()
    assert run_job(job.pk) == "skipped"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and not job.logs.exists()


def test_job_timeout_fails_with_a_clear_message(
    launch, localhost, make_playbook, super_admin, settings
):
    settings.JOB_TIMEOUT = 2
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.command: sleep 30")),
        server=localhost,
        user=super_admin,
    )
    assert job.status == Job.Status.FAILED and job.error_message == "timed out after 2 s"


def test_extra_vars_reach_the_playbook_from_a_file(launch, localhost, make_playbook, super_admin):
    playbook = make_playbook(tasks_yaml('ansible.builtin.debug: {msg: "version={{ version }}"}'))
    job = launch(
        playbook=playbook,
        server=localhost,
        user=super_admin,
        extra_vars={"version": "1.2.3; rm -rf /"},
    )
    assert job.status == Job.Status.SUCCESS
    assert any("version=1.2.3; rm -rf /" in c for _, c, _ in console(job))


def test_a_missing_key_file_fails_the_job_cleanly(launch, make_playbook, admin):
    server = ServerFactory(ssh_key_path="no-such-key")
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")), server=server, user=admin
    )
    assert job.status == Job.Status.FAILED and "Cannot run" in job.error_message
    # The claim and the early failure are both in the trail, relaunch or not.
    relaunched = launch(
        playbook=job.playbook, server=server, user=admin, relaunched_from=job, extra_vars={}
    )
    from auditing.models import AuditLog

    for run in (job, relaunched):
        claim, end = AuditLog.objects.filter(action="UPDATE", resource_id=str(run.job_id))
        assert claim.details["changes"]["status"] == ["pending", "running"]
        assert end.details["changes"]["status"] == ["running", "failed"]
        assert "Cannot run" in end.details["changes"]["error_message"][1]
        assert end.user == admin and end.details["source"] == "worker"


# --- a real worker process -------------------------------------------------------------


@pytest.mark.slow
def test_launch_goes_through_a_real_qcluster_worker(
    qcluster, localhost, make_playbook, super_admin
):
    job = job_launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        server=localhost,
        user=super_admin,
    )
    wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=60)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS and job.task_id
    assert job.worker.split(":")[1] != str(__import__("os").getpid())  # another process ran it


@pytest.mark.slow
def test_cancel_stops_a_running_sleep_within_two_seconds_and_leaves_no_process(
    qcluster, localhost, make_playbook, super_admin
):
    marker = "61.4242"
    playbook = make_playbook(
        tasks_yaml(f"name: Long sleep\n      ansible.builtin.command: sleep {marker}")
    )
    job = job_launch(playbook=playbook, server=localhost, user=super_admin)
    wait_for(
        lambda: JobLog.objects.filter(job=job, content__contains="TASK [Long sleep]").exists(),
        timeout=60,
    )
    wait_for(
        lambda: (
            subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 0
        ),
        timeout=10,
    )
    job.refresh_from_db()
    started = time.monotonic()
    assert job.request_cancel()
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Job.Status.CANCELLED, timeout=10, interval=0.05
    )
    assert time.monotonic() - started <= 2.0
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 1
    job.refresh_from_db()
    assert job.error_message == "Cancelled while running." and job.completed_at


# --- the reaper ------------------------------------------------------------------------


def test_reap_jobs_fails_jobs_whose_worker_is_gone_or_overdue(db, settings, capsys):
    import socket
    from datetime import timedelta

    from django.utils import timezone

    host = socket.gethostname()
    dead = JobFactory(status=Job.Status.RUNNING, worker=f"{host}:999999", started_at=timezone.now())
    alive = JobFactory(
        status=Job.Status.RUNNING,
        worker=f"{host}:{__import__('os').getpid()}",
        started_at=timezone.now(),
    )
    overdue = JobFactory(
        status=Job.Status.RUNNING,
        worker="other-host:1",
        started_at=timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT + 3600),
    )
    remote_recent = JobFactory(
        status=Job.Status.RUNNING, worker="other-host:1", started_at=timezone.now()
    )
    call_command("reap_jobs")
    assert "Reaped 2 jobs" in capsys.readouterr().out
    for job, status in (
        (dead, "failed"),
        (overdue, "failed"),
        (alive, "running"),
        (remote_recent, "running"),
    ):
        job.refresh_from_db()
        assert job.status == status
    dead.refresh_from_db()
    assert dead.error_message.startswith("worker lost") and dead.completed_at
    call_command("reap_jobs")
    assert "Reaped 0 jobs" in capsys.readouterr().out


def test_a_spawning_worker_announces_itself_and_runs_the_reaper(db, monkeypatch):
    import socket

    from django_q.signals import post_spawn

    from automation import workers
    from automation.models import WorkerHeartbeat

    # The heartbeat thread would outlive this test in this process: only its first beat here.
    monkeypatch.setattr(workers, "_beat_forever", lambda stop: None)
    monkeypatch.setattr("django_q.conf.Conf.SYNC", False)
    job = JobFactory(status=Job.Status.RUNNING, worker=f"{socket.gethostname()}:999998")
    post_spawn.send(sender="django_q", proc_name="Process-1")
    try:
        job.refresh_from_db()
        assert job.status == Job.Status.FAILED
        assert WorkerHeartbeat.objects.filter(name=workers.worker_name()).exists()
    finally:
        workers.stop_heartbeat()


def test_the_worker_records_the_end_of_a_run_for_the_launching_user(
    launch, localhost, make_playbook, super_admin
):
    from auditing.models import AuditLog

    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        server=localhost,
        user=super_admin,
    )
    run = AuditLog.objects.get(action="RUN", resource_id=str(job.job_id))
    claim, end = AuditLog.objects.filter(action="UPDATE", resource_id=str(job.job_id)).order_by(
        "id"
    )
    assert run.user == super_admin and claim.user == super_admin and end.user == super_admin
    assert claim.details["changes"]["status"] == ["pending", "running"]
    assert end.details["changes"]["status"] == ["running", "success"]
    assert end.details["changes"]["rc"] == [None, 0]
    assert claim.details["source"] == end.details["source"] == "worker"
