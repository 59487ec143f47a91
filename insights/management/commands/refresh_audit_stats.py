"""manage.py refresh_audit_stats: count new audit_logs rows into the analytics audit rollup."""

from django.core.management.base import BaseCommand, CommandError

from insights.rollup import refresh_audit_stats_fully


class Command(BaseCommand):
    help = (
        "Count the audit_logs rows written since the last run into audit_daily_stats (the "
        "analytics page's most active users and action mix), reading forward from a watermark "
        "in primary-key batches. Runs every minute on a schedule; the analytics page only reads, "
        "so its audit figures lag by up to that interval. Safe to run any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=200_000, help="audit rows read per transaction"
        )

    def handle(self, *args, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        read = refresh_audit_stats_fully(max_rows=batch_size)
        self.stdout.write(f"Done. Counted {read} new audit rows.")
