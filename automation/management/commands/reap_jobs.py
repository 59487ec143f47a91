from django.core.management.base import BaseCommand

from automation.services.jobs import jobs_reap, jobs_requeue_stale_pending
from automation.services.projects import syncs_reap


class Command(BaseCommand):
    help = (
        "Fail jobs left 'running' whose worker process is gone (same host) or that ran past "
        "JOB_TIMEOUT plus a grace period, with the message 'worker lost'. Safe to run any time; "
        "also runs when a qcluster worker starts and every 5 minutes on a schedule. Pending "
        "jobs whose task the broker lost (never claimed after 10 minutes) are re-queued once, "
        "and failed with a message if the re-queued task is lost too."
    )

    def handle(self, *args, **options):
        reaped = jobs_reap()
        for job in reaped:
            self.stdout.write(f"Failed job {job.job_id}: {job.error_message}")
        self.stdout.write(f"Done. Reaped {len(reaped)} jobs.")
        swept = jobs_requeue_stale_pending()
        for job, outcome in swept:
            self.stdout.write(f"Pending job {job.job_id}: {outcome}")
        self.stdout.write(f"Done. Looked after {len(swept)} stale pending jobs.")
        for sync in syncs_reap():
            self.stdout.write(f"Failed sync {sync.sync_id}: {sync.error_message}")
