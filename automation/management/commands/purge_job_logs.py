"""manage.py purge_job_logs: delete old console lines, never those of live jobs."""

from django.db.models import Q

from automation.maintenance import PurgeCommand
from automation.models import Job, JobLog


class Command(PurgeCommand):
    help = (
        "Delete job console lines (job_logs) older than --days (JOB_LOG_RETENTION_DAYS, 90), in "
        "batches of short transactions. Lines of jobs still pending or running are never "
        "touched. 0 days keeps everything."
    )
    model = JobLog
    time_field = "timestamp"
    retention_setting = "JOB_LOG_RETENTION_DAYS"
    noun = "job log lines"

    def keep(self):
        # Evaluated inside every batch's DELETE, so a job that starts mid-purge is protected.
        return Q(job__in=Job.objects.filter(status__in=Job.LIVE).values("pk"))
