"""Every analytics figure equals the same figure computed with SQL on ``jobs`` (and
``audit_logs``), for jobs a real worker ran and for crafted jobs on UTC day boundaries."""

import zoneinfo
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from automation.models import Job
from automation.services.jobs import job_launch
from automation.services.playbooks import playbook_update
from insights import analytics
from insights.models import DURATION_EDGES
from insights.rollup import duration_bucket, normalise_error, refresh_audit_stats_fully
from tests.automation.conftest import tasks_yaml
from tests.factories import PlaybookFactory, ServerFactory
from tests.insights.analytics_data import finished_job
from tests.worker import wait_for

S, F, C = Job.Status.SUCCESS, Job.Status.FAILED, Job.Status.CANCELLED
ZONES = [zoneinfo.ZoneInfo(z) for z in ("UTC", "Asia/Kolkata", "America/New_York")]


def finished_rows(p):
    """The finished jobs launched in the period, straight from SQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT playbook_id, playbook_sha256, status, server_id, created_at, started_at,"
            " completed_at, error_message FROM jobs"
            " WHERE status IN (%s, %s, %s) AND created_at >= %s AND created_at < %s",
            [S, F, C, p.start, p.end],
        )
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    for row in rows:  # SQLite and MariaDB hand back naive UTC datetimes
        for name in ("created_at", "started_at", "completed_at"):
            if row[name] is not None and timezone.is_naive(row[name]):
                row[name] = row[name].replace(tzinfo=UTC)
    return rows


def assert_figures_match_sql(p):
    rows = finished_rows(p)
    # Runs per playbook, version and status.
    expected = Counter((r["playbook_id"], r["playbook_sha256"], r["status"]) for r in rows)
    got = {
        (r["playbook_id"], r["playbook_sha256"], r["status"]): r["runs"]
        for r in analytics.version_counts(p)
    }
    assert got == dict(expected)
    # Runs and failures per server.
    servers = defaultdict(lambda: [0, 0])
    for r in rows:
        servers[r["server_id"]][0] += 1
        servers[r["server_id"]][1] += r["status"] == F
    got = {r["server_id"]: [r["runs"], r["failed"]] for r in analytics.top_servers(p, limit=1000)}
    assert got == dict(servers)
    # Heatmap in several zones.
    for tz in ZONES:
        grid = [[0] * 24 for _ in range(7)]
        for r in rows:
            local = r["created_at"].astimezone(tz)
            grid[local.weekday()][local.hour] += 1
        assert analytics.heatmap(p, tz) == grid, tz
    # Failures by normalised message.
    failures = Counter(normalise_error(r["error_message"]) for r in rows if r["status"] == F)
    got = {r["message"]: r["runs"] for r in analytics.top_failures(p, limit=1000)}
    assert got == dict(failures)
    # Durations: timed runs, median and p95 per playbook and UTC day.
    per_day = defaultdict(list)
    for r in rows:
        if r["started_at"] and r["completed_at"]:
            seconds = max((r["completed_at"] - r["started_at"]).total_seconds(), 0.0)
            per_day[(r["playbook_id"], r["created_at"].astimezone(UTC).date())].append(seconds)
    playbooks = {r["playbook_id"] for r in rows}
    for pid, series in analytics.duration_trends(p, playbooks).items():
        for day, timed, median, p95 in series:
            durations = per_day.get((pid, day), [])
            assert timed == len(durations), (pid, day)
            if durations:
                counts = [0] * len(DURATION_EDGES)
                for seconds in durations:
                    counts[duration_bucket(seconds)] += 1
                longest = max(durations)
                assert median == pytest.approx(
                    analytics.percentile_from_histogram(counts, 0.5, longest)
                )
                assert p95 == pytest.approx(
                    analytics.percentile_from_histogram(counts, 0.95, longest)
                )
    # Audit activity per user and action.
    refresh_audit_stats_fully()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(user_id, 0), action, COUNT(*) FROM audit_logs"
            " WHERE timestamp >= %s AND timestamp < %s GROUP BY COALESCE(user_id, 0), action",
            [p.start, p.end],
        )
        expected_audit = {(u, a): n for u, a, n in cursor.fetchall()}
    got = {
        (e["user_id"], action): n
        for e in analytics.user_activity(p, limit=1000)
        for action, n in e["actions"]
    }
    assert got == expected_audit
    return rows


@pytest.mark.slow
def test_every_analytics_figure_matches_sql_on_jobs_run_by_a_real_worker(
    qcluster, localhost, make_playbook, super_admin
):
    if connection.vendor != "mysql":
        # The reference side compares datetimes in raw SQL; SQLite compares them as text, so
        # the crafted rows on period edges land differently there. Production (and CI) is
        # MariaDB/MySQL.
        pytest.skip("the raw-SQL reference needs MariaDB/MySQL datetime comparison")
    good = tasks_yaml("ansible.builtin.ping:")
    bad = tasks_yaml('ansible.builtin.fail:\n        msg: "release 42 broke on web7.example.net"')
    playbook = make_playbook(good, name="Release")
    jobs = [job_launch(playbook=playbook, server=localhost, user=super_admin) for _ in range(5)]
    wait_for(lambda: all(Job.objects.get(pk=j.pk).is_finished for j in jobs), timeout=120)
    playbook = playbook_update(playbook=playbook, user=super_admin, content=bad, base_sha256=None)
    jobs += [job_launch(playbook=playbook, server=localhost, user=super_admin) for _ in range(5)]
    wait_for(lambda: all(Job.objects.get(pk=j.pk).is_finished for j in jobs), timeout=120)

    # Crafted runs around UTC midnight, on another playbook, in and out of the 7-day period.
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    other, web = PlaybookFactory(name="Crafted"), ServerFactory(hostname="web7.example.net")
    for created, status in (
        (today, S),  # the first instant of today
        (today - timedelta(microseconds=1), F),  # the last instant of yesterday
        (today - timedelta(days=6), S),  # the first instant of the 7-day period
        (today - timedelta(days=6, microseconds=1), F),  # just before it
        (today - timedelta(minutes=20), C),  # 18:40 in New York, 05:10 in Kolkata
    ):
        finished_job(
            other, web, super_admin, created=created, status=status, seconds=3, error="boom 7"
        )

    for days in (7, 30):
        rows = assert_figures_match_sql(analytics.period(days))
        assert all(r["playbook_sha256"] for r in rows)  # no run lost its version
    worker_rows = Job.objects.filter(playbook=playbook).values_list("status", "playbook_sha256")
    assert {status for status, _ in worker_rows} == {S, F}
    # The regressing version is flagged at once, without a rebuild.
    impact = {e["name"]: e for e in analytics.change_impact(analytics.period(7))}
    versions = impact["Release"]["versions"]
    assert [(v["success"], v["failed"], v["flagged"]) for v in versions] == [
        (5, 0, False),
        (0, 5, True),
    ]
    assert all(v["sha256"] and v["audit_id"] for v in versions)
    assert datetime.now(UTC) - today < timedelta(days=1)


def audit_rollup_matches_audit_logs():
    """AuditDailyStat over all days equals audit_logs counted with SQL."""
    from insights.models import AuditDailyStat

    refresh_audit_stats_fully()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(user_id, 0), action, COUNT(*) FROM audit_logs"
            " GROUP BY COALESCE(user_id, 0), action"
        )
        expected = {(u, a): n for u, a, n in cursor.fetchall()}
    got = Counter()
    for user_id, action, count in AuditDailyStat.objects.values_list("user_id", "action", "count"):
        got[(user_id, action)] += count
    assert {k: v for k, v in got.items() if v} == expected


@pytest.mark.django_db
def test_figures_stay_equal_to_sql_after_refused_admin_edits_a_purge_and_a_rebuild(
    as_super_admin, super_admin
):
    import io

    from django.core.management import call_command

    from auditing.models import AuditLog
    from insights.rollup import rebuild_job_stats
    from tests.factories import AuditLogFactory

    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    playbook, server = PlaybookFactory(name="Checked"), ServerFactory(hostname="checked")
    jobs = [
        finished_job(
            playbook, server, super_admin, created=today - timedelta(days=d), status=st, seconds=s
        )
        for d, st, s in ((0, S, 3), (1, F, 40), (2, C, None), (12, S, 700), (20, F, None))
    ]
    for days in (3, 10, 20):
        AuditLogFactory(user=super_admin, action="LOGIN", timestamp=today - timedelta(days=days))
    refresh_audit_stats_fully()
    p = analytics.period(30)
    assert_figures_match_sql(p)

    # The admin can neither change a job's status nor delete it: both would bypass the rollups.
    url = f"/admin/automation/job/{jobs[0].pk}/"
    assert as_super_admin.post(url + "change/", {"status": F}).status_code == 403
    assert as_super_admin.post(url + "delete/", {"post": "yes"}).status_code == 403
    assert_figures_match_sql(p)

    # A purge subtracts the audit rows it deletes from the audit rollup, at once.
    old = AuditLog.objects.filter(timestamp__lt=today - timedelta(days=5)).count()
    assert old >= 2
    out = io.StringIO()
    call_command("purge_audit_logs", "--days", "5", "--force", stdout=out)
    assert f"Pruned {old} " in out.getvalue()
    audit_rollup_matches_audit_logs()
    assert_figures_match_sql(p)

    # A rebuild gives the same figures again.
    rebuild_job_stats()
    call_command("rebuild_job_stats", stdout=io.StringIO())
    audit_rollup_matches_audit_logs()
    assert_figures_match_sql(p)
