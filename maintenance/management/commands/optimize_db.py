"""manage.py optimize_db: refresh optimizer statistics and reclaim space, monthly."""

import time

from django.core.management.base import BaseCommand
from django.db import connection

from maintenance.dbreport import project_tables


class Command(BaseCommand):
    help = (
        "MySQL/MariaDB: ANALYZE TABLE, then OPTIMIZE TABLE (rebuilds InnoDB tables to reclaim "
        "the space purges freed) on each of the project's tables, with timings. "
        "--analyze-only skips OPTIMIZE (fast, no table rebuild). SQLite: ANALYZE only."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--analyze-only",
            action="store_true",
            help="Only refresh statistics (ANALYZE TABLE); do not rebuild tables.",
        )

    def handle(self, *args, analyze_only, **options):
        started = time.monotonic()
        if connection.vendor == "mysql":
            operations = ["ANALYZE"] if analyze_only else ["ANALYZE", "OPTIMIZE"]
            for table in project_tables():
                for operation in operations:
                    self._run_mysql(operation, table)
        else:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            self.stdout.write(
                f"{connection.vendor}: ran ANALYZE on the whole database "
                f"({time.monotonic() - started:.2f} s). OPTIMIZE TABLE exists only on "
                "MySQL/MariaDB; on SQLite reclaim space with VACUUM while the app is stopped."
            )
        self.stdout.write(f"Done in {time.monotonic() - started:.2f} s.")

    def _run_mysql(self, operation, table):
        began = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(f"{operation} TABLE {connection.ops.quote_name(table)}")
            # One row per message: (Table, Op, Msg_type, Msg_text).
            messages = [f"{row[2]}: {row[3]}" for row in cursor.fetchall()]
        self.stdout.write(
            f"{operation} TABLE {table}: {time.monotonic() - began:.2f} s ({'; '.join(messages)})"
        )
