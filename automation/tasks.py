"""django-q2 entry points. A task loads its row by id and calls the runner."""

import logging

from django.db import close_old_connections, connection

from auditing.context import audit_context
from automation.models import Job, JobHost, ProjectSync
from automation.runner.execute import execute
from automation.runner.sync import execute_sync
from automation.services import targets
from automation.services.jobs import send_task
from automation.workers import worker_name


def close_stale_connections():
    # A long-lived worker must not reuse a connection the server dropped. Inside an atomic
    # block (tests running tasks inline) closing would end the caller's transaction.
    if not connection.in_atomic_block:
        close_old_connections()


def run_job(job_pk):
    """Run job ``job_pk`` once: the claim (pending -> running) makes a second delivery of the
    same task, or a job cancelled before it started, a no-op."""
    close_stale_connections()
    try:
        related = ("playbook", "project_snapshot__project", "server", "user")
        job = Job.objects.select_related(*related).filter(pk=job_pk).first()
        if job is None:
            return "skipped"
        if job.status == Job.Status.PENDING and (blocker := _overlapping(job)) is not None:
            # Its playbook waits rather than overlapping on a host: this task ends, and the
            # blocker's end sends the job again (start_waiting_jobs).
            return f"waiting for job {blocker.job_id}"
        # The claim is audited too (Job.transition), as the worker acting for the launcher.
        with audit_context(user=job.user, source="worker"):
            if not job.start(worker=worker_name()):
                return "skipped"
            try:
                execute(job)
            finally:
                start_waiting_jobs(job)
        return job.status
    finally:
        close_stale_connections()


def _overlapping(job):
    servers = [row.server for row in job.hosts.select_related("server") if row.server_id]
    return targets.overlapping_job(job.playbook, servers, exclude=job)


def start_waiting_jobs(job):
    """Send again the pending jobs of ``job``'s playbook (those waiting for it to end); one
    still overlapping another running job waits again. A second delivery of a task is
    harmless: the claim lets one run."""
    servers = JobHost.objects.filter(job=job, server__isnull=False).values("server_id")
    waiting = Job.objects.filter(
        playbook_id=job.playbook_id,
        status=Job.Status.PENDING,
        pk__in=JobHost.objects.filter(server_id__in=servers).values("job_id"),
    )
    for pending in waiting.order_by("created_at")[:100]:
        try:
            send_task(pending, suffix="-resumed")
        except Exception:  # the stale-pending sweep re-queues it later
            logging.getLogger(__name__).exception("Could not resume job %s", pending.job_id)


def run_sync(sync_pk):
    """Run project sync ``sync_pk`` once (the claim makes a second delivery a no-op)."""
    close_stale_connections()
    try:
        sync = ProjectSync.objects.select_related("project", "user").filter(pk=sync_pk).first()
        if sync is None:
            return "skipped"
        with audit_context(user=sync.user, source="worker"):
            if not sync.start(worker=worker_name()):
                return "skipped"
            execute_sync(sync)
        return sync.status
    finally:
        close_stale_connections()
