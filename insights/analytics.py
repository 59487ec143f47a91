"""The figures behind the dashboard and the analytics page, as plain functions.

Each takes the period (or the viewer's time zone) and returns plain data, so tests can check
exact numbers. Every query is bounded by an index range: the dashboard counts jobs on
``(status, created_at)`` (a covering index), the analytics page reads the small rollups of
insights/rollup.py by day, and audit figures range over ``audit_logs.timestamp``. The number of
queries does not depend on the amount of data. Rules and definitions: docs/analytics.md.
"""

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from accounts.models import User
from automation.models import Job, Playbook, PlaybookVersion
from insights.models import (
    DURATION_EDGES,
    AuditDailyStat,
    JobActivityStat,
    JobDailyStat,
    JobFailureStat,
    JobServerDailyStat,
)
from inventory.models import Server

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
HOT_PERCENT = 90
STALE_AFTER = timedelta(minutes=10)
# Change impact: a version is flagged when both it and the version before it ran at least
# IMPACT_MIN_RUNS finished runs in the period and its success rate is IMPACT_MIN_DROP points
# (or more) below the previous version's.
IMPACT_MIN_RUNS = 5
IMPACT_MIN_DROP = 20.0
HISTOGRAM = [f"h{i}" for i in range(len(DURATION_EDGES))]


def success_rate(success, failed):
    """Percentage of successful runs among success + failed (cancelled runs are neither), or
    None when there were none: the pages show "—" rather than dividing by zero."""
    total = success + failed
    return None if total == 0 else round(100.0 * success / total, 1)


# --- dashboard -------------------------------------------------------------------------------


def local_midnight(day, tz):
    return datetime.combine(day, time.min, tzinfo=tz)


def dashboard_figures(*, tz, now=None):
    """Everything on the dashboard except the job lists. "Today" starts at midnight in ``tz``;
    "7 days" and "30 days" are today and the 6 (29) local days before it."""
    now = now or timezone.now()
    today = now.astimezone(tz).date()
    start_today = local_midnight(today, tz)
    start_7 = local_midnight(today - timedelta(days=6), tz)
    start_30 = local_midnight(today - timedelta(days=29), tz)
    # One range scan of the covering (status, created_at) index over 30 days.
    rows = (
        Job.objects.filter(status__in=Job.Status.values, created_at__gte=start_30)
        .values("status")
        .annotate(
            today=Count("pk", filter=Q(created_at__gte=start_today)),
            week=Count("pk", filter=Q(created_at__gte=start_7)),
            month=Count("pk"),
        )
        .order_by()
    )
    by_status = {row["status"]: row for row in rows}

    def count(status, span):
        return by_status.get(status, {}).get(span, 0)

    hot = Q(cpu_usage__gt=HOT_PERCENT) | Q(memory_usage__gt=HOT_PERCENT)
    hot |= Q(disk_usage__gt=HOT_PERCENT)
    # A server never polled (just added) is "never polled", not stale; one whose last poll
    # failed is "failing", however recent that poll (it is not healthy for being polled).
    stale = Q(last_monitored__lt=now - STALE_AFTER)
    servers = Server.objects.filter(is_active=True).aggregate(
        active=Count("pk"),
        hot=Count("pk", filter=hot),
        stale=Count("pk", filter=stale),
        never=Count("pk", filter=Q(last_monitored__isnull=True)),
        failing=Count("pk", filter=~Q(last_error="")),
    )
    return {
        "servers_active": servers["active"],
        "servers_hot": servers["hot"],
        "servers_stale": servers["stale"],
        "servers_never_polled": servers["never"],
        "servers_failing": servers["failing"],
        "playbooks": Playbook.objects.filter(is_active=True).count(),
        "jobs_today": [(s.label, count(s.value, "today")) for s in Job.Status],
        "jobs_week": [(s.label, count(s.value, "week")) for s in Job.Status],
        "jobs_today_total": sum(count(s, "today") for s in Job.Status.values),
        "jobs_week_total": sum(count(s, "week") for s in Job.Status.values),
        "success_rate_7": success_rate(count("success", "week"), count("failed", "week")),
        "success_rate_30": success_rate(count("success", "month"), count("failed", "month")),
    }


def _newest(queryset, limit):
    """The ``limit`` newest jobs of ``queryset`` with their playbook, server and user.

    Two steps on purpose: the ids come from a walk down a created_at index (reading ``limit``
    entries); joining the small tables in that same query lets MariaDB start from playbooks and
    read every job of each playbook, then sort them all."""
    ids = list(queryset.order_by("-created_at").values_list("pk", flat=True)[:limit])
    jobs = Job.objects.filter(pk__in=ids).select_related("playbook", "server", "user")
    return sorted(jobs, key=lambda job: job.created_at, reverse=True)


def running_jobs(limit=10):
    """The newest running jobs and how many are running in all (both on (status, created_at))."""
    running = Job.objects.filter(status=Job.Status.RUNNING)
    jobs = _newest(running, limit)
    total = len(jobs) if len(jobs) < limit else running.count()
    return jobs, total


def recent_jobs(limit=10):
    return _newest(Job.objects.all(), limit)


def failing_servers(*, limit=10):
    """Active servers whose last poll or connection test failed (``last_error`` set)."""
    return list(
        Server.objects.filter(is_active=True)
        .exclude(last_error="")
        .order_by("-last_monitored", "hostname")[:limit]
    )


def stale_servers(*, now=None, limit=10):
    """Active servers polled before but not for over STALE_AFTER, longest silent first. One
    never polled (just added) is not stale: the dashboard counts it as "never polled"."""
    now = now or timezone.now()
    return list(
        Server.objects.filter(last_monitored__lt=now - STALE_AFTER, is_active=True).order_by(
            "last_monitored", "hostname"
        )[:limit]
    )


# --- analytics: the period -----------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The last ``days`` UTC days, today included: the rollups are kept per UTC day, so every
    figure on the analytics page counts the same whole days (the heatmap then shows them in the
    viewer's time zone)."""

    days: int
    first_day: date
    last_day: date

    @property
    def start(self):
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self):
        return datetime.combine(self.last_day + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def day_list(self):
        return [self.first_day + timedelta(days=i) for i in range(self.days)]


def period(days, *, now=None):
    now = now or timezone.now()
    last = now.astimezone(UTC).date()
    return Period(days=days, first_day=last - timedelta(days=days - 1), last_day=last)


def parse_period(raw):
    """The period in days from a query string value, and an error message when it was not one
    of PERIODS (the default is used then)."""
    if raw in (None, ""):
        return DEFAULT_PERIOD, None
    try:
        days = int(raw)
    except (TypeError, ValueError):
        days = None
    if days not in PERIODS:
        choices = ", ".join(str(p) for p in PERIODS)
        return DEFAULT_PERIOD, f"Period must be one of {choices} days; showing {DEFAULT_PERIOD}."
    return days, None


def _daily(p):
    return JobDailyStat.objects.filter(day__gte=p.first_day, day__lte=p.last_day)


# --- analytics: playbooks ------------------------------------------------------------------


def version_counts(p):
    """Finished runs per playbook, version and status in the period, with the first day each
    ran: the one rollup read that both playbook_summary and change_impact start from."""
    rows = list(
        _daily(p)
        .values("playbook_id", "playbook_sha256", "status")
        .annotate(runs=Sum("runs"), first_day=Min("day"))
        .order_by()
    )
    # Names in a second query: joining playbooks here lets MariaDB start from playbooks and
    # read each playbook's whole history instead of the period's range of days.
    names = dict(
        Playbook.objects.filter(pk__in={r["playbook_id"] for r in rows}).values_list("pk", "name")
    )
    for row in rows:
        row["playbook__name"] = names.get(row["playbook_id"], "?")
    return rows


def playbook_summary(p, rows=None):
    """Per playbook: finished runs by status and success rate, most runs first. ``rows`` is
    version_counts(p) when the caller has it already."""
    rows = version_counts(p) if rows is None else rows
    summary = {}
    for row in rows:
        entry = summary.setdefault(
            row["playbook_id"],
            {"playbook_id": row["playbook_id"], "name": row["playbook__name"], "runs": 0}
            | {s: 0 for s in Job.FINISHED},
        )
        entry[row["status"]] += row["runs"]
        entry["runs"] += row["runs"]
    result = sorted(summary.values(), key=lambda e: (-e["runs"], e["name"]))
    for entry in result:
        entry["success_rate"] = success_rate(entry["success"], entry["failed"])
    return result


def percentile_from_histogram(counts, q, maximum):
    """The q-th percentile (nearest rank) of durations counted in DURATION_EDGES buckets: the
    upper edge of the bucket holding that rank, capped at the longest run seen (so the figure
    is never above a real duration). None when there are no runs."""
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for count, edge in zip(counts, DURATION_EDGES, strict=True):
        seen += count
        if seen >= rank:
            return float(maximum) if edge is None else min(float(edge), float(maximum))
    return float(maximum)


def duration_trends(p, playbook_ids):
    """{playbook_id: [(day, runs, median, p95), ...]} for each day of the period (None when the
    playbook had no timed run that day)."""
    rows = (
        _daily(p)
        .filter(playbook_id__in=playbook_ids)
        .values("playbook_id", "day")
        .annotate(
            timed=Sum("timed_runs"), longest=Max("duration_max"), **{h: Sum(h) for h in HISTOGRAM}
        )
        .order_by()
    )
    cells = {(r["playbook_id"], r["day"]): r for r in rows}
    trends = {}
    for pid in playbook_ids:
        series = []
        for day in p.day_list:
            row = cells.get((pid, day))
            counts = [row[h] for h in HISTOGRAM] if row else []
            longest = row["longest"] if row else 0
            series.append(
                (
                    day,
                    row["timed"] if row else 0,
                    percentile_from_histogram(counts, 0.5, longest) if row else None,
                    percentile_from_histogram(counts, 0.95, longest) if row else None,
                )
            )
        trends[pid] = series
    return trends


def top_servers(p, limit=10):
    """The servers most runs targeted in the period, with how many of those runs failed."""
    rows = (
        JobServerDailyStat.objects.filter(day__gte=p.first_day, day__lte=p.last_day)
        .values("server_id")
        .annotate(runs=Sum("runs"), failed=Sum("failed"))
        .order_by()
    )
    # Sorted here and named in a second query, for the reason given in version_counts.
    top = sorted(rows, key=lambda r: (-r["runs"], r["server_id"]))[:limit]
    names = dict(
        Server.objects.filter(pk__in=[r["server_id"] for r in top]).values_list("pk", "hostname")
    )
    for row in top:
        row["server__hostname"] = names.get(row["server_id"], "?")
    return sorted(top, key=lambda r: (-r["runs"], r["server__hostname"]))


def heatmap(p, tz):
    """Runs launched per weekday (0 = Monday) and hour in ``tz``: a 7 x 24 list of counts.
    Quarter-hour UTC buckets are shifted one by one, so DST and half-hour zones are exact."""
    grid = [[0] * 24 for _ in range(7)]
    buckets = JobActivityStat.objects.filter(bucket__gte=p.start, bucket__lt=p.end)
    for bucket, runs in buckets.values_list("bucket", "runs"):
        local = bucket.astimezone(tz)
        grid[local.weekday()][local.hour] += runs
    return grid


def top_failures(p, limit=10):
    """The most frequent normalised error messages of failed runs, with their last occurrence."""
    return list(
        JobFailureStat.objects.filter(day__gte=p.first_day, day__lte=p.last_day)
        .values("signature")
        .annotate(message=Max("message"), runs=Sum("runs"), last_seen=Max("last_seen"))
        .order_by("-runs", "-last_seen")[:limit]
    )


# --- analytics: people ---------------------------------------------------------------------


def user_activity(p, limit=10):
    """The users with the most audit_logs rows in the period and their action mix:
    [{"user_id", "username", "total", "actions": [(action, count), ...]}, ...]. System actions
    (no user) count as "system". Reads AuditDailyStat only: the ``refresh_audit_stats`` schedule
    keeps it up to date, so the figures may lag audit_logs by up to that schedule's interval
    (reading a page never writes)."""
    rows = (
        AuditDailyStat.objects.filter(day__gte=p.first_day, day__lte=p.last_day)
        .values_list("user_id", "action")
        .annotate(n=Sum("count"))
        .order_by()
    )
    people = {}
    for user_id, action, count in rows:
        entry = people.setdefault(user_id, {"user_id": user_id, "total": 0, "actions": {}})
        entry["actions"][action] = entry["actions"].get(action, 0) + count
        entry["total"] += count
    top = sorted(people.values(), key=lambda e: (-e["total"], e["user_id"]))[:limit]
    names = dict(
        User.objects.filter(pk__in=[e["user_id"] for e in top if e["user_id"]]).values_list(
            "pk", "username"
        )
    )
    for entry in top:
        if not entry["user_id"]:
            entry["username"] = "system"
        else:
            entry["username"] = names.get(entry["user_id"], f"deleted user #{entry['user_id']}")
        entry["actions"] = sorted(entry["actions"].items(), key=lambda a: (-a[1], a[0]))
    return top


# --- analytics: change impact --------------------------------------------------------------


def change_impact(p, rows=None):
    """Per playbook, its versions (content sha256 recorded on jobs) that ran in the period, in the
    order they became current, with runs and success rate; a version whose success rate fell
    clearly below the previous one (see IMPACT_MIN_RUNS, IMPACT_MIN_DROP) is flagged, with the
    audit ids to diff the two and to restore the previous one.

    Returns [{"playbook_id", "name", "versions": [{"sha256", "runs", "success", "failed",
    "success_rate", "audit_id", "flagged", "previous"}, ...]}], playbooks with a flag first."""
    rows = version_counts(p) if rows is None else rows
    versions = {}
    for row in rows:
        key = (row["playbook_id"], row["playbook_sha256"])
        v = versions.setdefault(
            key,
            {
                "playbook_id": row["playbook_id"],
                "name": row["playbook__name"],
                "sha256": row["playbook_sha256"],
                "runs": 0,
                "first_day": row["first_day"],
            }
            | {s: 0 for s in Job.FINISHED},
        )
        v[row["status"]] += row["runs"]
        v["runs"] += row["runs"]
        v["first_day"] = min(v["first_day"], row["first_day"])
    audits = _audit_versions({k for k in versions if k[1]})
    by_playbook = {}
    for key, v in versions.items():
        audit = audits.get(key)
        v["audit_id"] = audit["id"] if audit else None
        v["became_current"] = audit["created_at"] if audit else None
        v["success_rate"] = success_rate(v["success"], v["failed"])
        by_playbook.setdefault(v["playbook_id"], []).append(v)
    result = []
    for pid, items in by_playbook.items():
        far_past = datetime.min.replace(tzinfo=UTC)
        items.sort(key=lambda v: (v["first_day"], v["became_current"] or far_past))
        previous = None
        for v in items:
            v["previous"] = previous
            v["flagged"] = is_clear_drop(previous, v)
            previous = v
        result.append(
            {
                "playbook_id": pid,
                "name": items[0]["name"],
                "versions": items,
                "flagged": any(v["flagged"] for v in items),
            }
        )
    result.sort(key=lambda e: (not e["flagged"], e["name"]))
    return result


def is_clear_drop(previous, version):
    """True when ``version`` ran worse than ``previous`` by the documented margin."""
    if previous is None:
        return False
    if previous["runs"] < IMPACT_MIN_RUNS or version["runs"] < IMPACT_MIN_RUNS:
        return False
    before, after = previous["success_rate"], version["success_rate"]
    if before is None or after is None:
        return False
    return before - after >= IMPACT_MIN_DROP


def _audit_versions(keys):
    """{(playbook_id, sha256): the latest playbook_audit_logs row that produced that content}."""
    if not keys:
        return {}
    entries = (
        PlaybookVersion.objects.filter(
            new_sha256__in={sha for _, sha in keys}, playbook_id__in={pid for pid, _ in keys}
        )
        .values("id", "playbook_id", "new_sha256", "created_at")
        .order_by("created_at", "id")
    )
    found = {}
    for entry in entries:
        key = (entry["playbook_id"], entry["new_sha256"])
        if key in keys:
            found[key] = entry  # later rows win: the newest audit row for that content
    return found
