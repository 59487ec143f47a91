"""Job writes: launch (row + task after commit), cancel, relaunch, and the orphan reaper."""

import json
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from auditing.models import AuditLog
from auditing.services import NO_USER, audit_record
from automation import sandbox
from automation.models import Job

# Extra-var keys that decide where and how Ansible connects (ansible_connection=local would
# run on the controller): only admins may set them.
RESERVED_PREFIX = "ansible_"
REAP_GRACE = timedelta(minutes=5)


def parse_extra_vars(text, *, user):
    """A JSON object from ``text`` ('' means {}); ValidationError with a clear message."""
    text = (text or "").strip()
    if len(text.encode()) > settings.EXTRA_VARS_MAX_BYTES:
        raise ValidationError(f"Extra vars are limited to {settings.EXTRA_VARS_MAX_BYTES:,} bytes.")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Extra vars are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    if not isinstance(value, dict):
        raise ValidationError('Extra vars must be a JSON object, like {"version": "1.2"}.')
    check_reserved_keys(value, user=user)
    return value


def check_reserved_keys(extra_vars, *, user):
    reserved = sorted(k for k in extra_vars if str(k).lower().startswith(RESERVED_PREFIX))
    if reserved and not user.is_admin:
        raise ValidationError(
            f"Only admins may set {', '.join(reserved)}: keys starting with 'ansible_' change "
            "where or how Ansible connects."
        )


def may_run_locally(user):
    """A local server runs the playbook on the controller: inside the sandbox, where it reaches
    nothing of the app, any role may; with the sandbox off, only a super_admin."""
    return sandbox.enabled() or user.is_super_admin


def job_launch(*, playbook, server, user, extra_vars=None, check_mode=False, relaunched_from=None):
    """Create a pending job and enqueue its run once the row is committed."""
    if not playbook.is_active:
        raise ValidationError(f"Playbook {playbook.name} is deleted and cannot run.")
    if not server.is_active:
        raise ValidationError(f"Server {server.hostname} is inactive and cannot run jobs.")
    if server.is_local and not may_run_locally(user):
        raise ValidationError(
            f"Only a super admin can run jobs on {server.hostname}: it runs on the controller "
            "and the sandbox is off."
        )
    extra_vars = extra_vars or {}
    check_reserved_keys(extra_vars, user=user)
    with transaction.atomic():
        job = Job.objects.create(
            playbook=playbook,
            server=server,
            user=user,
            extra_vars=extra_vars,
            check_mode=check_mode,
            relaunched_from=relaunched_from,
        )
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job):
    task_id = async_task(
        "automation.tasks.run_job", job.pk, task_name=f"job-{job.job_id}", group="jobs"
    )
    Job.objects.filter(pk=job.pk).update(task_id=task_id or "")
    job.task_id = task_id or ""


def job_cancel(*, job, user):
    """Cancel ``job`` for its owner or an admin; False when it had already finished.
    Audited here: the cancel is a conditional QuerySet.update, which sends no signal."""
    if not (user.is_admin or job.user_id == user.pk):
        raise PermissionDenied
    was = job.status
    if not job.request_cancel():
        return False
    audit_record(AuditLog.Action.CANCEL, job, {"status": was}, user=user)
    return True


def job_relaunch(*, job, user):
    """A new job with the same playbook, server, extra vars and check mode."""
    return job_launch(
        playbook=job.playbook,
        server=job.server,
        user=user,
        extra_vars=job.extra_vars,
        check_mode=job.check_mode,
        relaunched_from=job,
    )


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def jobs_reap(*, now=None):
    """Fail jobs left running by a worker that is gone (same host, process dead) or running
    past JOB_TIMEOUT + grace. Returns the reaped jobs."""
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.JOB_TIMEOUT) - REAP_GRACE
    host = socket.gethostname()
    reaped = []
    for job in Job.objects.filter(status=Job.Status.RUNNING).only(
        "id", "job_id", "status", "worker", "started_at", "stats"
    ):
        worker_host, _, pid = job.worker.rpartition(":")
        dead = worker_host == host and pid.isdigit() and not pid_alive(int(pid))
        overdue = job.started_at is not None and job.started_at < deadline
        if (dead or overdue) and job.finish(
            Job.Status.FAILED,
            error_message="worker lost: the worker running this job stopped "
            + ("(process gone)" if dead else f"(no result after {settings.JOB_TIMEOUT} s)"),
        ):
            audit_record(
                AuditLog.Action.UPDATE,
                job,
                {"status": ["running", "failed"], "error_message": job.error_message},
                user=NO_USER,
            )
            reaped.append(job)
    return reaped
