"""No job stranded at the queue: a broker that refuses the task at launch (a private
redis-server, stopped before the launch) and pending jobs whose task the broker lost."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ

from auditing.models import AuditLog
from automation.models import Job
from automation.services.jobs import PENDING_REQUEUE_AFTER, REAP_GRACE
from tests.factories import JobFactory, PlaybookFactory, ServerFactory
from tests.redis import RedisServer, pings


@pytest.fixture
def stopped_redis(tmp_path, monkeypatch):
    """The URL of a private redis-server that ran on a free loopback port and was stopped:
    the broker is configured, and down. Never the machine's shared Redis."""
    server = RedisServer(tmp_path)
    url = server.start()
    server.stop()
    assert not pings(url)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", url)
    return url


@pytest.mark.django_db(transaction=True)
def test_a_launch_with_the_broker_down_shows_the_reason_and_leaves_no_pending_job(
    stopped_redis, as_user, user
):
    playbook, server = PlaybookFactory(), ServerFactory()
    response = as_user.post(
        "/jobs/new/",
        {"playbook": playbook.pk, "server": server.pk, "extra_vars": '{"version": "7.1"}'},
    )
    assert response.status_code == 200  # the form again, not a 500
    text = response.content.decode()
    assert "The job could not be queued, so it will not run" in text
    assert "the task broker did not answer" in text and "Connection refused" in text
    assert "7.1" in text  # the launch form keeps what was typed
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and job.completed_at and not job.task_id
    assert job.error_message.startswith("could not be queued: the task broker did not answer")
    assert not Job.objects.filter(status=Job.Status.PENDING).exists()
    audit = AuditLog.objects.get(resource_id=str(job.job_id), action="UPDATE")
    assert audit.user == user and audit.details["changes"]["status"] == ["pending", "failed"]


@pytest.mark.django_db(transaction=True)
def test_a_relaunch_with_the_broker_down_says_so_on_the_page(stopped_redis, as_user, user):
    old = JobFactory(user=user, status=Job.Status.FAILED)
    response = as_user.post(f"/jobs/{old.job_id}/relaunch/", follow=True)
    assert response.status_code == 200
    assert "The job could not be queued" in response.content.decode()
    assert not Job.objects.filter(status=Job.Status.PENDING).exists()


# --- pending jobs whose task was lost --------------------------------------------------


def back_date(job, age):
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)


def queued_job_ids():
    return {row.task["args"][0] for row in OrmQ.objects.all()}


@pytest.mark.django_db
def test_a_pending_job_whose_task_was_lost_is_requeued_once_then_failed(settings, capsys):
    lost = JobFactory(task_id="a-task-the-broker-lost")
    back_date(lost, PENDING_REQUEUE_AFTER + timedelta(minutes=1))
    call_command("reap_jobs")
    assert f"Pending job {lost.job_id}: re-queued as task" in capsys.readouterr().out
    lost.refresh_from_db()
    assert lost.status == Job.Status.PENDING and lost.task_id != "a-task-the-broker-lost"
    assert queued_job_ids() == {lost.pk}  # the broker holds its new task
    requeue = AuditLog.objects.get(resource_id=str(lost.job_id), details__has_key="requeued")
    assert requeue.details["changes"]["task_id"] == ["a-task-the-broker-lost", lost.task_id]

    call_command("reap_jobs")  # its new task waits in the broker: nothing to do
    assert "Looked after 0 stale pending jobs" in capsys.readouterr().out

    OrmQ.objects.all().delete()  # lost again
    AuditLog.objects.filter(pk=requeue.pk).update(
        timestamp=timezone.now() - timedelta(seconds=settings.JOB_TIMEOUT) - REAP_GRACE * 2
    )
    call_command("reap_jobs")
    lost.refresh_from_db()
    assert lost.status == Job.Status.FAILED and lost.completed_at
    assert lost.error_message.startswith("never started: its task was lost by the task queue")
    assert not OrmQ.objects.exists()  # failed, not re-queued a second time
    assert AuditLog.objects.filter(
        resource_id=str(lost.job_id), details__changes__status=["pending", "failed"]
    ).exists()


@pytest.mark.django_db
def test_pending_jobs_waiting_in_the_broker_or_launched_recently_are_left_alone(capsys):
    from django_q.tasks import async_task

    waiting = JobFactory()
    task_id = async_task("automation.tasks.run_job", waiting.pk)
    Job.objects.filter(pk=waiting.pk).update(task_id=task_id)
    back_date(waiting, PENDING_REQUEUE_AFTER * 3)  # a long queue: still in line
    recent = JobFactory(task_id="")  # its enqueue may be on its way
    call_command("reap_jobs")
    assert "Looked after 0 stale pending jobs" in capsys.readouterr().out
    for job in (waiting, recent):
        job.refresh_from_db()
        assert job.status == Job.Status.PENDING
    assert queued_job_ids() == {waiting.pk}


@pytest.mark.django_db
def test_stale_pending_jobs_are_left_alone_while_the_broker_cannot_be_read(stopped_redis):
    lost = JobFactory(task_id="gone")
    back_date(lost, PENDING_REQUEUE_AFTER * 2)
    call_command("reap_jobs")
    lost.refresh_from_db()
    assert lost.status == Job.Status.PENDING and lost.task_id == "gone"
