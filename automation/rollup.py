"""Keep the analytics rollups (JobDailyStat and friends) in step with finished jobs.

``record_finished_job`` is called by ``Job.transition`` inside the same transaction as the status
change: one single-row upsert per rollup table (``INSERT ... ON DUPLICATE KEY UPDATE`` on MariaDB,
``ON CONFLICT ... DO UPDATE`` elsewhere), so it costs a few index lookups whatever the table size.
``rebuild_job_stats`` recomputes every rollup from the jobs table (after a bulk import, or if the
rollups ever drift); ``manage.py rebuild_job_stats`` calls it.
"""

import hashlib
import logging
import re
from collections import defaultdict
from datetime import UTC

from django.db import DatabaseError, connection, transaction

from automation.models import (
    DURATION_EDGES,
    Job,
    JobActivityStat,
    JobDailyStat,
    JobFailureStat,
    JobServerDailyStat,
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
    """
    try:
        with transaction.atomic():
            _record(job)
    except DatabaseError:
        logger.exception("Could not count job %s in the analytics rollups", job.job_id)


def _record(job):
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
    _upsert(
        JobServerDailyStat,
        {"day": day, "server_id": job.server_id},
        {"runs": 1, "failed": int(failed)},
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


def _upsert(model, keys, values, *, maxima=(), keep=()):
    """Insert a rollup row or add ``values`` to the existing one, in one statement.

    Columns in ``maxima`` keep the greater of old and new, those in ``keep`` keep the old value;
    every other value column is added to. Django's bulk_create(update_conflicts=True) can only
    overwrite, not add, hence this small piece of SQL.
    """
    fields = {f.attname: f for f in model._meta.concrete_fields}
    columns = [*keys, *values]
    params = [fields[c].get_db_prep_save(v, connection) for c, v in {**keys, **values}.items()]
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    placeholders = ", ".join(["%s"] * len(columns))
    mysql = connection.vendor == "mysql"
    new = "VALUES({c})" if mysql else "excluded.{c}"
    greatest = "GREATEST" if connection.vendor in ("mysql", "postgresql") else "MAX"
    assignments = []
    for name in values:
        if name in keep:
            continue
        c = qn(fields[name].column)
        incoming = new.format(c=c)
        if name in maxima:
            assignments.append(f"{c} = {greatest}({table}.{c}, {incoming})")
        else:
            assignments.append(f"{c} = {table}.{c} + {incoming}")
    column_list = ", ".join(qn(fields[c].column) for c in columns)
    # Identifiers come from the model's metadata, values go through placeholders.
    sql = f"INSERT INTO {table} ({column_list}) VALUES ({placeholders}) "  # noqa: S608
    if mysql:
        sql += "ON DUPLICATE KEY UPDATE " + ", ".join(assignments)
    else:
        conflict = ", ".join(qn(fields[c].column) for c in keys)
        sql += f"ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(assignments)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


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
            servers[(day, job.server_id)][0] += 1
            activity[quarter_hour(job.created_at)] += 1
            if job.status == Job.Status.FAILED:
                message = normalise_error(job.error_message)
                seen = job.completed_at or job.created_at
                entry = failures.setdefault((day, _signature(message)), [message, 0, seen])
                servers[(day, job.server_id)][1] += 1
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
