"""manage.py db_report: the database report, generated live."""

from django.core.management.base import BaseCommand

from maintenance.dbreport import build_report, render_json, render_markdown


class Command(BaseCommand):
    help = (
        "Print the database report: engine and version, rows and sizes per table, unused "
        "tables, utilisation, job log lines per job, growth projections, retention in force and "
        "last purge runs, missing recommended indexes. Counts marked ~ are estimates."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")

    def handle(self, *args, format, **options):
        report = build_report()
        self.stdout.write(render_json(report) if format == "json" else render_markdown(report))
