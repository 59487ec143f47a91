"""The retention registry: how long each log-like table keeps its rows, in one place.

Every purge command (``purge_job_logs``, ``purge_audit_logs``, ``purge_server_metrics``), the
schedules (``setup_schedules``) and the database report (``db_report``, ``/database/``) read this
list, so a table's rule is written once. Days are not stored here but read from settings at run
time (``setting``), so changing ``JOB_LOG_RETENTION_DAYS`` needs only a restart, and ``0`` keeps
everything.
"""

from dataclasses import dataclass
from datetime import time

from django.conf import settings
from django.db.models import Q
from django_q.models import Schedule

from auditing.models import AuditLog
from automation.models import Job, JobLog
from inventory.models import ServerMetric

DEFAULT_BATCH_SIZE = 5000


@dataclass(frozen=True)
class Retention:
    """One table's retention rule and how its purge runs and is scheduled."""

    command: str  # the purge command's name; also names its schedule
    model: type
    time_field: str  # rows older than the cutoff by this field go
    setting: str  # settings name holding the number of days (0: keep forever)
    noun: str  # "job log lines", for messages
    schedule_type: str  # django-q2 Schedule type (daily, weekly...)
    first_run_at: time  # UTC time of day of the scheduled run
    rule: str = ""  # anything else the command's help should say about its rule
    min_days: int = 1  # fewer days than this needs --force
    batch_size: int = DEFAULT_BATCH_SIZE  # default rows per DELETE
    keep: object = None  # callable returning a Q of rows never to delete, or None

    @property
    def table(self):
        return self.model._meta.db_table

    @property
    def days(self):
        """The retention in force, from settings (0: keep forever)."""
        return getattr(settings, self.setting)

    def keep_q(self):
        return self.keep() if self.keep else None


def _lines_of_live_jobs():
    # Evaluated inside every batch's DELETE, so a job that starts mid-purge is protected.
    return Q(job__in=Job.objects.filter(status__in=Job.LIVE).values("pk"))


RETENTION = (
    Retention(
        command="purge_job_logs",
        model=JobLog,
        time_field="timestamp",
        setting="JOB_LOG_RETENTION_DAYS",
        noun="job log lines",
        schedule_type=Schedule.DAILY,
        first_run_at=time(3, 0),
        rule="Lines of jobs still pending or running are never touched.",
        keep=_lines_of_live_jobs,
    ),
    Retention(
        command="purge_server_metrics",
        model=ServerMetric,
        time_field="collected_at",
        setting="SERVER_METRICS_RETENTION_DAYS",
        noun="server metric samples",
        schedule_type=Schedule.DAILY,
        first_run_at=time(3, 10),
    ),
    Retention(
        command="purge_audit_logs",
        model=AuditLog,
        time_field="timestamp",
        setting="AUDIT_LOG_RETENTION_DAYS",
        noun="audit log rows",
        schedule_type=Schedule.WEEKLY,
        first_run_at=time(3, 20),
        # The compliance minimum. The purge runs before its own PURGE row is written and its
        # cutoff is at least a year old, so it never deletes its own record.
        min_days=365,
    ),
)


def retention_for(command):
    """The registry entry of a purge command."""
    return next(r for r in RETENTION if r.command == command)
