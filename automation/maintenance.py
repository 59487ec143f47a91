"""Retention: delete rows older than a cutoff in bounded batches. One helper for every purge.

The three purge commands (job logs, audit logs, server metrics) are the same shape: a table, its
time column, a retention period from settings, and sometimes rows that must survive whatever
their age (console lines of jobs still pending or running). ``PurgeCommand`` is that shape;
each command only names its table and rule.

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
* Every run, dry or real, is recorded as an ``AuditLog`` PURGE row (resource_type = the table),
  attributed to whoever is in the audit context (the system when run by the scheduler).
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

DEFAULT_BATCH_SIZE = 5000


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


def record_purge(*, table, result):
    """Write the audit row for one purge run; the actor comes from the audit context."""
    from auditing.context import current_actor
    from auditing.models import AuditLog

    actor = current_actor()
    return AuditLog.objects.create(
        user=actor.user,
        action=AuditLog.Action.PURGE,
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
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
    )


class PurgeCommand(BaseCommand):
    """Base of the purge commands. Subclasses set the class attributes below."""

    model = None
    time_field = ""
    retention_setting = ""  # settings name holding the default number of days
    noun = ""  # "job log lines", used in messages
    min_days = 1  # fewer days than this needs --force

    def keep(self):
        """A Q of rows never to delete whatever their age (None: no exception)."""
        return None

    def add_arguments(self, parser):
        default = getattr(settings, self.retention_setting)
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Delete {self.noun} older than this many days "
            f"[{self.retention_setting}={default}; 0 keeps everything].",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per DELETE, each in its own transaction [{DEFAULT_BATCH_SIZE}].",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        if self.min_days > 1:
            parser.add_argument(
                "--force",
                action="store_true",
                help=f"Allow fewer than {self.min_days} days.",
            )

    def handle(self, *args, days=None, batch_size, dry_run, force=False, **options):
        self.verbosity = options.get("verbosity", 1)
        if days is None:
            days = getattr(settings, self.retention_setting)
        if days < 0:
            raise CommandError("--days must be 0 (keep everything) or a positive number of days.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if days == 0:
            self.stdout.write(
                f"Retention for {self.noun} is 0 (keep forever): skipped, nothing deleted."
            )
            return
        if days < self.min_days and not force:
            raise CommandError(
                f"Refusing to purge {self.noun} newer than {self.min_days} days "
                f"(--days {days}): the compliance minimum. Use --force to override."
            )
        table = self.model._meta.db_table
        cutoff = timezone.now() - timedelta(days=days)
        verb = "Counting" if dry_run else "Purging"
        self.stdout.write(
            f"{verb} {self.noun} older than {days} days (before {cutoff:%Y-%m-%d %H:%M:%S %Z})"
            f" from {table}, {batch_size} rows per batch."
        )
        result = purge_in_batches(
            model=self.model,
            time_field=self.time_field,
            cutoff=cutoff,
            days=days,
            batch_size=batch_size,
            dry_run=dry_run,
            keep=self.keep(),
            progress=self._progress,
        )
        record_purge(table=table, result=result)
        if dry_run:
            self.stdout.write(f"Dry run: {result.deleted} {self.noun} would be pruned.")
            return
        self.stdout.write(
            f"Done. Pruned {result.deleted} {self.noun}."
            f" ({result.batches} batches in {result.seconds:.2f} s,"
            f" longest batch {result.longest_batch_seconds:.3f} s)"
        )

    def _progress(self, result):
        # Every batch when asked for detail (-v 2); otherwise every 20th, about once a second.
        if self.verbosity >= 2 or (self.verbosity >= 1 and result.batches % 20 == 1):
            self.stdout.write(
                f"  batch {result.batches}: {result.deleted} {self.noun} pruned so far"
                f" ({result.seconds:.1f} s)"
            )
