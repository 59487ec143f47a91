"""Jobs that finish through the real ``Job.transition`` path (so the rollups update as in
production), with chosen launch times and durations."""

from datetime import UTC, datetime, timedelta

from automation.models import Job
from tests.factories import SAMPLE_PLAYBOOK, JobFactory

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday


def at(day, hour=10, minute=0):
    """A UTC moment in March 2026."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def finished_job(playbook, server, user, *, created, status, seconds=None, error="", sha=None):
    """A job launched at ``created`` that ran for ``seconds`` (started one second after launch)
    and ended in ``status``; ``seconds=None`` cancels or fails it before it started."""
    job = JobFactory(
        playbook=playbook,
        server=server,
        user=user,
        created_at=created,
        playbook_sha256=sha if sha is not None else sha256_of(SAMPLE_PLAYBOOK),
    )
    if seconds is None:
        assert job.transition(
            status, completed_at=created + timedelta(seconds=1), error_message=error
        )
        return job
    started = created + timedelta(seconds=1)
    assert job.transition(Job.Status.RUNNING, started_at=started)
    assert job.transition(
        status, completed_at=started + timedelta(seconds=seconds), error_message=error
    )
    return job


def sha256_of(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()
