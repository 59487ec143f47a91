"""Retention: delete rows older than a cutoff in bounded batches. One helper for every purge.

The three purge commands (job logs, audit logs, server metrics) are the same shape: a table, its
time column, a retention period from settings, and sometimes rows that must survive whatever
their age (console lines of jobs still pending or running). Those rules are the retention
registry (maintenance/retention.py); ``PurgeCommand`` is the shape, and each command only names
its registry entry.

How a purge deletes, and why:

* It walks the table in primary-key order. Each batch is one ``DELETE ... WHERE id BETWEEN lo
  AND hi AND <time> < cutoff [AND job not live]`` in its own short transaction, so a batch
  holds its row locks for a fraction of a second and running jobs keep inserting lines.
* ``lo`` is the next deletable row and ``hi`` the ``batch_size``-th one after it (index reads
  outside the transaction), so every batch deletes at most ``batch_size`` rows and rows that
  must stay (lines of live jobs) or gaps in the ids cost nothing. Ids grow with time, but the
  time condition stays in every DELETE so a row whose id is in range but whose timestamp is
  newer is never removed.
* ``--dry-run`` counts what would go and deletes nothing.
* Every run, dry or real, is recorded as an ``AuditLog`` PURGE row (resource_type = the table)
  through ``auditing.services.audit_record``, attributed to whoever is in the audit context
  (the system when run by the scheduler).
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from auditing.models import AuditLog
from auditing.services import audit_record
from core.signals import rows_purging
from maintenance.retention import DEFAULT_BATCH_SIZE


@dataclass
class PurgeResult:
    """What one purge did: rows deleted (or, dry, that would be), batches and timings."""

    cutoff: object
    days: int
    deleted: int = 0
    batches: int = 0
    seconds: float = 0.0
    longest_batch_seconds: float = 0.0
    dry_run: bool = False


def purge_in_batches(
    *,
    model,
    time_field,
    cutoff,
    days,
    batch_size=DEFAULT_BATCH_SIZE,
    dry_run=False,
    keep=None,
    progress=None,
):
    """Delete ``model`` rows whose ``time_field`` is before ``cutoff``, ``batch_size`` at a time.

    ``keep`` is a Q of rows never to delete whatever their age. ``progress(result)`` is called
    after every batch. Returns a PurgeResult. Only for tables no foreign key points at (log-like
    tables): the raw DELETE does no cascading.
    """
    started = time.monotonic()
    result = PurgeResult(cutoff=cutoff, days=days, dry_run=dry_run)
    old = Q(**{f"{time_field}__lt": cutoff})
    deletable = model.objects.filter(old)
    if keep is not None:
        deletable = deletable.exclude(keep)
    if dry_run:
        result.deleted = deletable.count()
        result.seconds = time.monotonic() - started
        return result

    # The id range holding old rows: one read of the time index. Every later read is bounded
    # by it, so the newest rows (the bulk of a healthy table) are never walked.
    last = model.objects.filter(old).aggregate(last=Max("pk"))["last"]
    if last is None:
        result.seconds = time.monotonic() - started
        return result
    in_range = deletable.filter(pk__lte=last).order_by("pk").values_list("pk", flat=True)
    lo = in_range.first()
    while lo is not None:
        # The batch ends at the batch_size-th deletable row from lo, or at the last old row.
        hi = next(iter(in_range.filter(pk__gte=lo)[batch_size - 1 : batch_size]), last)
        batch_started = time.monotonic()
        with transaction.atomic(using=model.objects.db):
            batch = deletable.filter(pk__gte=lo, pk__lte=hi)
            rows_purging.send(sender=model, rows=batch)  # rollups subtract what goes
            # _raw_delete: one DELETE statement. QuerySet.delete() would first load the rows
            # (to send signals and cascade) whenever any delete receiver is connected.
            deleted = batch._raw_delete(batch.db)
        elapsed = time.monotonic() - batch_started
        result.batches += 1
        result.deleted += deleted
        result.longest_batch_seconds = max(result.longest_batch_seconds, elapsed)
        result.seconds = time.monotonic() - started
        if progress:
            progress(result)
        # Seek the next deletable row: kept rows (live jobs) and gaps are stepped over.
        lo = in_range.filter(pk__gt=hi).first()
    result.seconds = time.monotonic() - started
    return result


def audit_purge(*, table, result):
    """Write the audit row for one purge run (actor from the audit context)."""
    return audit_record(
        AuditLog.Action.PURGE,
        resource_type=table,
        details={
            "cutoff": result.cutoff.isoformat(),
            "days": result.days,
            "deleted": result.deleted,
            "dry_run": result.dry_run,
            "batches": result.batches,
            "seconds": round(result.seconds, 3),
            "longest_batch_seconds": round(result.longest_batch_seconds, 3),
        },
    )


class PurgeCommand(BaseCommand):
    """Base of the purge commands: a subclass names its entry of the retention registry
    (``retention = retention_for("purge_job_logs")``); table, time field, setting, exceptions,
    minimum and batch size all come from there."""

    retention = None

    @property
    def help(self):
        r = self.retention
        parts = [
            f"Delete {r.noun} ({r.table}) older than --days ({r.setting}, now {r.days}), in "
            "batches of short transactions."
        ]
        if r.rule:
            parts.append(r.rule)
        if r.min_days > 1:
            parts.append(f"Refuses fewer than {r.min_days} days unless --force.")
        parts.append("The run itself is recorded as a PURGE audit row. 0 days keeps everything.")
        return " ".join(parts)

    def add_arguments(self, parser):
        r = self.retention
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Delete {r.noun} older than this many days "
            f"[{r.setting}={r.days}; 0 keeps everything].",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=r.batch_size,
            help=f"Rows per DELETE, each in its own transaction [{r.batch_size}].",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        if r.min_days > 1:
            parser.add_argument(
                "--force",
                action="store_true",
                help=f"Allow fewer than {r.min_days} days.",
            )

    def handle(self, *args, days=None, batch_size, dry_run, force=False, **options):
        r = self.retention
        self.verbosity = options.get("verbosity", 1)
        if days is None:
            days = r.days
        if days < 0:
            raise CommandError("--days must be 0 (keep everything) or a positive number of days.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if days == 0:
            self.stdout.write(
                f"Retention for {r.noun} is 0 (keep forever): skipped, nothing deleted."
            )
            return
        if days < r.min_days and not force:
            raise CommandError(
                f"Refusing to purge {r.noun} newer than {r.min_days} days "
                f"(--days {days}): the compliance minimum. Use --force to override."
            )
        cutoff = timezone.now() - timedelta(days=days)
        verb = "Counting" if dry_run else "Purging"
        self.stdout.write(
            f"{verb} {r.noun} older than {days} days (before {cutoff:%Y-%m-%d %H:%M:%S %Z})"
            f" from {r.table}, {batch_size} rows per batch."
        )
        result = purge_in_batches(
            model=r.model,
            time_field=r.time_field,
            cutoff=cutoff,
            days=days,
            batch_size=batch_size,
            dry_run=dry_run,
            keep=r.keep_q(),
            progress=self._progress,
        )
        audit_purge(table=r.table, result=result)
        if dry_run:
            self.stdout.write(f"Dry run: {result.deleted} {r.noun} would be pruned.")
            return
        self.stdout.write(
            f"Done. Pruned {result.deleted} {r.noun}."
            f" ({result.batches} batches in {result.seconds:.2f} s,"
            f" longest batch {result.longest_batch_seconds:.3f} s)"
        )

    def _progress(self, result):
        # Every batch when asked for detail (-v 2); otherwise every 20th, about once a second.
        if self.verbosity >= 2 or (self.verbosity >= 1 and result.batches % 20 == 1):
            self.stdout.write(
                f"  batch {result.batches}: {result.deleted} {self.retention.noun} pruned so far"
                f" ({result.seconds:.1f} s)"
            )
