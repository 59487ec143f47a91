"""Fill the database with a realistic year of activity, for benchmarks and demos."""

import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from devtools.generator import Generator, already_generated


class Command(BaseCommand):
    help = (
        "Generate servers (with metric samples), playbooks (with versions), jobs over the last "
        "year (statuses, durations, weekday/hour peaks, the version each ran), their console "
        "lines and audit rows, with raw batched INSERTs, then rebuild the analytics rollups. "
        "Development only: refuses when DEBUG is False (unless --force) and on a database that "
        "already holds generated data (unless --append)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--servers", type=int, default=200)
        parser.add_argument("--playbooks", type=int, default=50)
        parser.add_argument("--jobs", type=int, default=10_000)
        parser.add_argument(
            "--log-lines", type=int, default=None, help="console lines in all (default: 10 per job)"
        )
        parser.add_argument("--audit", type=int, default=10_000)
        parser.add_argument(
            "--metrics-per-server",
            type=int,
            default=288,
            help="samples per server, 5 minutes apart (default 288 = 24 h)",
        )
        parser.add_argument("--playbook-versions", type=int, default=4)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument(
            "--append",
            action="store_true",
            help="add to a database that already has generated data",
        )
        parser.add_argument("--force", action="store_true", help="run even with DEBUG=False")

    def handle(self, *args, **o):
        log_lines = o["log_lines"] if o["log_lines"] is not None else o["jobs"] * 10
        self._validate(o, log_lines)
        if not settings.DEBUG and not o["force"]:
            raise CommandError(
                "DEBUG is False: this looks like production. Use --force to generate data anyway."
            )
        if already_generated() and not o["append"]:
            raise CommandError(
                "This database already holds generated data (users gen-*). "
                "Use --append to add more, or start from an empty database."
            )
        started = time.monotonic()
        generator = Generator(
            servers=o["servers"],
            playbooks=o["playbooks"],
            jobs=o["jobs"],
            log_lines=log_lines,
            audit=o["audit"],
            metrics_per_server=o["metrics_per_server"],
            playbook_versions=o["playbook_versions"],
            seed=o["seed"],
            batch_size=o["batch_size"],
            out=self.stdout.write,
        )
        timings = generator.run(append=o["append"] and already_generated())
        self.stdout.write("Rebuilding the analytics rollups...")
        rollup_started = time.monotonic()
        call_command("rebuild_job_stats", stdout=self.stdout)
        timings["rollups"] = time.monotonic() - rollup_started
        for label, seconds in timings.items():
            self.stdout.write(f"  {label}: {seconds:.1f} s")
        self.stdout.write(
            f"Done. Generated {o['jobs']:,} jobs, {generator.lines_done:,} console "
            f"lines, {o['audit']:,} audit rows in {time.monotonic() - started:.1f} s."
        )

    @staticmethod
    def _validate(o, log_lines):
        for name in ("servers", "playbooks", "jobs", "audit", "metrics_per_server"):
            if o[name] < 0:
                raise CommandError(f"--{name.replace('_', '-')} cannot be negative.")
        if log_lines < 0:
            raise CommandError("--log-lines cannot be negative.")
        if o["jobs"] and (not o["servers"] or not o["playbooks"]):
            raise CommandError("Jobs need at least one server and one playbook.")
        if log_lines and not o["jobs"]:
            raise CommandError("--log-lines needs --jobs: console lines belong to jobs.")
        if o["playbook_versions"] < 1:
            raise CommandError("--playbook-versions must be at least 1.")
        if not 100 <= o["batch_size"] <= 100_000:
            raise CommandError("--batch-size must be between 100 and 100,000.")
