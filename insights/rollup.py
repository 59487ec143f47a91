"""Keep the analytics rollups (JobDailyStat and friends) in step with finished jobs.

``record_finished_job`` runs when the job lifecycle sends ``automation.signals.job_finished``,
inside the same transaction as the status change: one single-row upsert per rollup table
(``INSERT ... ON DUPLICATE KEY UPDATE`` on MariaDB, ``ON CONFLICT ... DO UPDATE`` elsewhere), so
it costs a few index lookups whatever the table size. ``refresh_audit_stats`` brings the audit
rollup up to date from audit_logs (on a schedule). ``rebuild_job_stats`` recomputes every rollup
from the jobs table (after a bulk import, or if the rollups ever drift);
``manage.py rebuild_job_stats`` calls it.
"""

import hashlib
import logging
import re
from collections import defaultdict
from datetime import UTC

from django.db import connection, transaction
from django.db.models import Case, Count, F, Max, Value, When
from django.db.models.functions import TruncDate

from auditing.models import AuditLog
from automation.models import Job, JobHost
from core.db import insert_sql
from insights.models import (
    DURATION_EDGES,
    AuditDailyStat,
    JobActivityStat,
    JobDailyStat,
    JobFailureStat,
    JobServerDailyStat,
    RollupWatermark,
)

logger = logging.getLogger(__name__)

# --- error message normalisation ---------------------------------------------------------------

# Dotted words that are names in code or files, not hosts: kept as they are.
_NOT_HOSTS = re.compile(
    r"^(?:ansible|community)\.|\.(?:ya?ml|j2|py|json|cfg|conf|ini|sh|txt|log|retry)$", re.I
)


def _host(match):
    return match.group(0) if _NOT_HOSTS.search(match.group(0)) else "<host>"


_NORMALISERS = [
    # Order matters: the specific shapes first, bare numbers last.
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    # IPv6: the full form, or a compressed one (it has "::"; times like 12:30:45 do not).
    (re.compile(r"\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b", re.I), "<ip>"),
    (
        re.compile(
            r"(?<![\w:])(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})*)?(?![\w:])",
            re.I,
        ),
        "<ip>",
    ),
    (re.compile(r"(?:~|\.{1,2})?/[\w.@%+=-]+(?:/[\w.@%+=-]*)+"), "<path>"),
    (re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12,}\b", re.I), "<id>"),
    (
        re.compile(
            r"\b(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
            r"(?:\.(?=[a-z0-9-]*[a-z])[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+\b",
            re.I,
        ),
        _host,
    ),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_error(message):
    """The shape of an error message, so runs failing the same way group together:
    ``"ssh: connect to host web12.example.net port 22: Connection timed out after 30s"`` becomes
    ``"ssh: connect to host <host> port <n>: Connection timed out after <n>s"``."""
    text = (message or "").strip()
    if not text:
        return "(no error message)"
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return text.strip()[:500]


def _signature(normalised):
    return hashlib.sha1(normalised.encode(), usedforsecurity=False).hexdigest()


# --- one finished job -> rollup rows --------------------------------------------------------


def duration_bucket(seconds):
    """Index of the histogram bucket for a duration in seconds (see DURATION_EDGES)."""
    for index, edge in enumerate(DURATION_EDGES):
        if edge is None or seconds <= edge:
            return index
    raise AssertionError("unreachable: the last bucket is open-ended")


def quarter_hour(moment):
    """The UTC quarter hour a moment falls in."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def _duration(job):
    if job.started_at and job.completed_at:
        return max((job.completed_at - job.started_at).total_seconds(), 0.0)
    return None


def _daily_increments(job):
    seconds = _duration(job)
    values = {"runs": 1, "timed_runs": 0, "duration_sum": 0.0, "duration_max": 0.0}
    values.update({f"h{i}": 0 for i in range(len(DURATION_EDGES))})
    if seconds is not None:
        values.update(timed_runs=1, duration_sum=seconds, duration_max=seconds)
        values[f"h{duration_bucket(seconds)}"] = 1
    return values


def record_finished_job(job):
    """Count ``job`` (just moved to a final status) in every rollup table.

    Runs in a savepoint: if the rollup cannot be written, the error is logged and the job still
    finishes (its status matters more than a chart; ``rebuild_job_stats`` repairs the figures).
    Any error, not only a database one: it would otherwise escape into ``Job.transition`` and roll
    back the job's final status.
    """
    try:
        with transaction.atomic():
            _record(job)
    except Exception:
        logger.exception("Could not count job %s in the analytics rollups", job.job_id)


def on_job_finished(sender, job, **kwargs):
    """Receiver of ``automation.signals.job_finished``: count the run in the rollups."""
    record_finished_job(job)


# Every field _record reads. They are read back from the row the status change just wrote (in
# the same transaction), never from the caller's instance: the worker stores some of them with
# ``QuerySet.update`` (the playbook version) and the reaper holds a job loaded with .only(), so
# an instance may be stale or partial while the row is always what the change committed.
RECORDED_FIELDS = (
    "status",
    "created_at",
    "started_at",
    "completed_at",
    "playbook_id",
    "server_id",
    "playbook_sha256",
    "error_message",
)


def _record(job):
    row = Job.objects.filter(pk=job.pk).values(*RECORDED_FIELDS).first()
    if row is None:  # deleted in the same transaction: nothing left to count
        return
    job = Job(pk=job.pk, **row)
    day = job.created_at.astimezone(UTC).date()
    failed = job.status == Job.Status.FAILED
    _upsert(
        JobDailyStat,
        {
            "day": day,
            "playbook_id": job.playbook_id,
            "playbook_sha256": job.playbook_sha256,
            "status": job.status,
        },
        _daily_increments(job),
        maxima=("duration_max",),
    )
    for server_id, failed_there in _server_outcomes(job, failed):
        _upsert(
            JobServerDailyStat,
            {"day": day, "server_id": server_id},
            {"runs": 1, "failed": int(failed_there)},
        )
    _upsert(JobActivityStat, {"bucket": quarter_hour(job.created_at)}, {"runs": 1})
    if failed:
        message = normalise_error(job.error_message)
        _upsert(
            JobFailureStat,
            {"day": day, "signature": _signature(message)},
            {"runs": 1, "message": message, "last_seen": job.completed_at or job.created_at},
            maxima=("last_seen",),
            keep=("message",),
        )


def _server_outcomes(job, failed, hosts=None):
    """(server id, failed there) for each server the job ran on. A single-server job: its
    server and the job's outcome. A multi-host job: one pair per job_hosts row with a server
    (a host of a project inventory file that is not a server is not counted); a failed job
    counts as failed on the hosts that failed, were unreachable or never ran a task, not on
    the hosts where everything went well. ``hosts``: those rows, when already read."""
    if job.server_id:
        return [(job.server_id, failed)]
    if hosts is None:
        hosts = JobHost.objects.filter(job_id=job.pk, server__isnull=False).values_list(
            "server_id", "ok", "failed", "unreachable", "skipped"
        )
    return [
        (server_id, failed and (bad or lost or not (ok or skipped)))
        for server_id, ok, bad, lost, skipped in hosts
    ]


def _upsert(model, keys, values, *, maxima=(), keep=()):
    """Insert a rollup row or add ``values`` to the existing one: ``_upsert_many`` for one row."""
    _upsert_many(model, list(keys), [{**keys, **values}], maxima=maxima, keep=keep)


def _upsert_many(model, key_names, rows, *, maxima=(), keep=()):
    """Insert rollup rows or add their values to the existing ones, in one statement.

    Columns in ``maxima`` keep the greater of old and new, those in ``keep`` keep the old value;
    every other value column is added to (``core.db.insert_sql`` builds the statement)."""
    if not rows:
        return
    fields = {f.attname: f for f in model._meta.concrete_fields}
    columns = list(rows[0])
    sql = insert_sql(model, columns, rows=len(rows), conflict=key_names, maxima=maxima, keep=keep)
    params = [fields[c].get_db_prep_save(row[c], connection) for row in rows for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- audit_logs, counted incrementally -------------------------------------------------------

AUDIT_WATERMARK = "audit_logs"


def refresh_audit_stats(*, max_rows=200_000):
    """Count the audit_logs rows written since the last call (at most ``max_rows`` of them) into
    AuditDailyStat; returns how many rows were read.

    audit_logs is written by many parts of the app, so instead of a hook on each write this
    reads forward from a watermark by primary key (an index range), a few queries whatever the
    table size. ``manage.py refresh_audit_stats`` calls it every minute on a schedule (see
    setup_schedules); the analytics page only reads. Concurrent calls queue on the watermark
    row's lock. A row whose transaction commits after a newer row was already counted is missed:
    audit rows are written in short transactions, and ``rebuild_job_stats`` recounts
    everything."""
    with transaction.atomic():
        locked = RollupWatermark.objects.select_for_update()
        mark = locked.filter(name=AUDIT_WATERMARK).first()
        if mark is None:
            mark, _ = locked.get_or_create(name=AUDIT_WATERMARK)
        # The id of the max_rows-th row after the watermark (or the newest row): a walk of at
        # most max_rows entries of the primary key.
        ahead = AuditLog.objects.filter(pk__gt=mark.last_id).order_by("pk")
        upto = ahead.values_list("pk", flat=True)[max_rows - 1 : max_rows].first()
        if upto is None:
            upto = AuditLog.objects.aggregate(newest=Max("pk"))["newest"] or 0
        if upto <= mark.last_id:
            return 0
        counts = (
            AuditLog.objects.filter(pk__gt=mark.last_id, pk__lte=upto)
            .annotate(day=TruncDate("timestamp", tzinfo=UTC))
            .values("day", "user_id", "action")
            .annotate(n=Count("pk"))
            .order_by()
        )
        rows = [
            {"day": c["day"], "user_id": c["user_id"] or 0, "action": c["action"], "count": c["n"]}
            for c in counts
        ]
        for start in range(0, len(rows), 500):
            _upsert_many(AuditDailyStat, ["day", "user_id", "action"], rows[start : start + 500])
        mark.last_id = upto
        mark.save(update_fields=["last_id"])
    return sum(row["count"] for row in rows)


def on_audit_rows_purging(sender, rows, **kwargs):
    """Receiver of ``core.signals.rows_purging`` for audit_logs: subtract the rows a purge batch
    is about to delete from AuditDailyStat, in the batch's transaction.

    Only rows at or below the watermark were counted; the watermark row is locked first, so a
    refresh running meanwhile waits and then reads past the deleted rows. Rollup rows that fall
    to zero are removed."""
    mark = RollupWatermark.objects.select_for_update().filter(name=AUDIT_WATERMARK).first()
    if mark is None:
        return
    counts = list(
        rows.filter(pk__lte=mark.last_id)
        .annotate(day=TruncDate("timestamp", tzinfo=UTC))
        .values("day", "user_id", "action")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for c in counts:
        AuditDailyStat.objects.filter(
            day=c["day"], user_id=c["user_id"] or 0, action=c["action"]
        ).update(  # never below zero: the column is unsigned
            count=Case(When(count__gt=c["n"], then=F("count") - c["n"]), default=Value(0))
        )
    if counts:
        AuditDailyStat.objects.filter(day__in={c["day"] for c in counts}, count__lte=0).delete()


def refresh_audit_stats_fully(*, max_rows=200_000):
    """Call ``refresh_audit_stats`` until it has caught up with audit_logs (each call its own
    transaction of at most ``max_rows`` rows); returns the number of rows read."""
    total = 0
    while (read := refresh_audit_stats(max_rows=max_rows)) >= max_rows:
        total += read
    return total + read


def rebuild_audit_stats():
    """Recount AuditDailyStat from the whole audit_logs table, in bounded batches."""
    with transaction.atomic():
        AuditDailyStat.objects.all().delete()
        RollupWatermark.objects.filter(name=AUDIT_WATERMARK).delete()
    return refresh_audit_stats_fully()


# --- rebuild ---------------------------------------------------------------------------------

ROLLUPS = (JobDailyStat, JobServerDailyStat, JobActivityStat, JobFailureStat)


def rebuild_job_stats(*, batch_size=5000, progress=None):
    """Recompute every rollup from the finished jobs, reading jobs in primary-key batches (an
    index range each) and aggregating in memory; returns the number of jobs counted.

    Runs in one transaction, so the pages see either the old or the new figures. Jobs finishing
    while it runs may be counted twice or not at all: run it when workers are idle."""
    daily = {}
    servers = defaultdict(lambda: [0, 0])
    activity = defaultdict(int)
    failures = {}
    counted = 0
    last_pk = 0
    columns = (
        "pk",
        "status",
        "playbook_id",
        "playbook_sha256",
        "server_id",
        "created_at",
        "started_at",
        "completed_at",
        "error_message",
    )
    while True:
        batch = list(
            Job.objects.filter(pk__gt=last_pk).order_by("pk").values_list(*columns)[:batch_size]
        )
        if not batch:
            break
        last_pk = batch[-1][0]
        multi = defaultdict(list)
        for job_pk, *rest in JobHost.objects.filter(
            job_id__in=[row[0] for row in batch if row[4] is None], server__isnull=False
        ).values_list("job_id", "server_id", "ok", "failed", "unreachable", "skipped"):
            multi[job_pk].append(tuple(rest))
        for row in batch:
            job = Job(**dict(zip(("id", *columns[1:]), row, strict=True)))
            if job.status not in Job.FINISHED:
                continue
            counted += 1
            day = job.created_at.astimezone(UTC).date()
            key = (day, job.playbook_id, job.playbook_sha256, job.status)
            increments = _daily_increments(job)
            current = daily.get(key)
            if current is None:
                daily[key] = increments
            else:
                for name, value in increments.items():
                    if name == "duration_max":
                        current[name] = max(current[name], value)
                    else:
                        current[name] += value
            failed = job.status == Job.Status.FAILED
            for server_id, failed_there in _server_outcomes(job, failed, multi.get(job.pk, [])):
                servers[(day, server_id)][0] += 1
                servers[(day, server_id)][1] += int(failed_there)
            activity[quarter_hour(job.created_at)] += 1
            if job.status == Job.Status.FAILED:
                message = normalise_error(job.error_message)
                seen = job.completed_at or job.created_at
                entry = failures.setdefault((day, _signature(message)), [message, 0, seen])
                entry[1] += 1
                entry[2] = max(entry[2], seen)
        if progress:
            progress(counted)
    with transaction.atomic():
        for model in ROLLUPS:
            model.objects.all().delete()
        JobDailyStat.objects.bulk_create(
            [
                JobDailyStat(day=d, playbook_id=p, playbook_sha256=s, status=st, **v)
                for (d, p, s, st), v in daily.items()
            ],
            batch_size=1000,
        )
        JobServerDailyStat.objects.bulk_create(
            [
                JobServerDailyStat(day=d, server_id=s, runs=r, failed=f)
                for (d, s), (r, f) in servers.items()
            ],
            batch_size=1000,
        )
        JobActivityStat.objects.bulk_create(
            [JobActivityStat(bucket=b, runs=r) for b, r in activity.items()], batch_size=1000
        )
        JobFailureStat.objects.bulk_create(
            [
                JobFailureStat(day=d, signature=sig, message=m, runs=r, last_seen=seen)
                for (d, sig), (m, r, seen) in failures.items()
            ],
            batch_size=1000,
        )
    return counted
