"""The job lifecycle announces finished runs with ``job_finished``; automation knows no receiver."""

import pytest

from automation.models import Job
from automation.signals import job_finished
from tests.factories import JobFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def received():
    calls = []

    def receiver(sender, job, old_status, **kwargs):
        calls.append((sender, job.pk, old_status, job.status))

    job_finished.connect(receiver, dispatch_uid="test_job_signals")
    yield calls
    job_finished.disconnect(dispatch_uid="test_job_signals")


def test_job_finished_is_sent_once_by_the_process_that_finishes_the_job(received):
    job = JobFactory()
    assert job.start(worker="w:1")
    assert received == []  # starting is not finishing
    twin = Job.objects.get(pk=job.pk)
    assert job.finish(Job.Status.SUCCESS)
    assert twin.finish(Job.Status.CANCELLED) is False  # lost the race: nothing announced
    assert received == [(Job, job.pk, Job.Status.RUNNING, Job.Status.SUCCESS)]


def test_a_job_cancelled_before_it_started_is_announced_with_its_old_status(received):
    job = JobFactory()
    assert job.request_cancel()
    assert received == [(Job, job.pk, Job.Status.PENDING, Job.Status.CANCELLED)]
