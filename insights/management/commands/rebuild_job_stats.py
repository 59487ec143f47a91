from django.core.management.base import BaseCommand, CommandError

from insights.rollup import rebuild_audit_stats, rebuild_job_stats


class Command(BaseCommand):
    help = (
        "Recompute the analytics rollups (job_daily_stats, job_server_daily_stats, "
        "job_activity_stats, job_failure_stats) from the jobs table and audit_daily_stats from "
        "audit_logs. Run it after a bulk import; jobs finishing through the app and the "
        "refresh_audit_stats schedule keep the rollups current by themselves."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=5000, help="jobs read per query")

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")

        def progress(counted):
            if options["verbosity"] > 1:
                self.stdout.write(f"  {counted} finished jobs read")

        counted = rebuild_job_stats(batch_size=batch_size, progress=progress)
        self.stdout.write(f"Done. Rebuilt the job statistics from {counted} finished jobs.")
        audited = rebuild_audit_stats()
        self.stdout.write(f"Done. Rebuilt the audit statistics from {audited} audit rows.")
