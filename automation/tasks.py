"""django-q2 entry points. A task loads its row by id and calls the runner."""

from django.db import close_old_connections, connection

from auditing.context import audit_context
from automation.models import Job, ProjectSync
from automation.runner.execute import execute
from automation.runner.sync import execute_sync
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
        # The claim is audited too (Job.transition), as the worker acting for the launcher.
        with audit_context(user=job.user, source="worker"):
            if not job.start(worker=worker_name()):
                return "skipped"
            execute(job)
        return job.status
    finally:
        close_stale_connections()


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
