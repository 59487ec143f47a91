"""Analytics figures on a known data set: exact numbers, empty periods, time zones and
change impact."""

import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.db.models import Sum
from django.utils import timezone

from auditing.models import AuditLog
from automation.models import Job
from insights import analytics
from insights.models import (
    AuditDailyStat,
    JobActivityStat,
    JobDailyStat,
    JobFailureStat,
    JobServerDailyStat,
)
from insights.rollup import (
    duration_bucket,
    normalise_error,
    rebuild_audit_stats,
    rebuild_job_stats,
    refresh_audit_stats,
)
from tests.factories import (
    AuditLogFactory,
    JobFactory,
    PlaybookFactory,
    PlaybookVersionFactory,
    ServerFactory,
    UserFactory,
)
from tests.insights.analytics_data import NOW, at, finished_job

pytestmark = pytest.mark.django_db
S, F, C = Job.Status.SUCCESS, Job.Status.FAILED, Job.Status.CANCELLED


@pytest.fixture
def data(user):
    """Deploy: 3 successes (4, 8, 40 s) and a failure (100 s) on Tue 10 March, a cancel before
    start on 9 March. Backup: two failures on Sun 8 March, a success on 1 February."""
    deploy = PlaybookFactory(name="Deploy")
    backup = PlaybookFactory(name="Backup")
    web, db = ServerFactory(hostname="web01.example.net"), ServerFactory(hostname="db01")
    for seconds in (4, 8, 40):
        finished_job(deploy, web, user, created=at(10, 10), status=S, seconds=seconds)
    finished_job(
        deploy,
        db,
        user,
        created=at(10, 11),
        status=F,
        seconds=100,
        error="Connection to 10.0.0.5 port 22 timed out after 30s",
    )
    finished_job(deploy, web, user, created=at(9, 9), status=C)
    for host, minute in (("web01.example.net", 0), ("db02.example.net", 30)):
        finished_job(
            backup,
            web,
            user,
            created=at(8, 20, minute),
            status=F,
            seconds=3,
            error=f"Host {host} unreachable: /var/tmp/{minute}/x failed",
        )
    finished_job(
        backup, web, user, created=datetime(2026, 2, 1, 8, tzinfo=UTC), status=S, seconds=2
    )
    # Live jobs are not in the analytics until they finish.
    JobFactory(playbook=deploy, server=web, user=user, created_at=at(10), status=Job.Status.RUNNING)
    return {"deploy": deploy, "backup": backup, "web": web, "db": db}


def period(days):
    return analytics.period(days, now=NOW)


def test_period_is_the_last_n_utc_days_including_today():
    p = period(7)
    assert (p.first_day, p.last_day) == (date(2026, 3, 5), date(2026, 3, 11))
    assert p.start == datetime(2026, 3, 5, tzinfo=UTC) and p.end == datetime(
        2026, 3, 12, tzinfo=UTC
    )
    assert len(p.day_list) == 7


@pytest.mark.parametrize(
    "raw, days, has_error",
    [
        (None, 30, False),
        ("", 30, False),
        ("7", 7, False),
        ("90", 90, False),
        ("8", 30, True),
        ("-7", 30, True),
        ("abc", 30, True),
        ("7.0", 30, True),
        ("9" * 400, 30, True),
    ],
)
def test_period_parameter_falls_back_to_30_days_with_a_message(raw, days, has_error):
    parsed, error = analytics.parse_period(raw)
    assert parsed == days and bool(error) == has_error


def test_success_rate_leaves_out_cancelled_runs_and_never_divides_by_zero():
    assert analytics.success_rate(3, 1) == 75.0
    assert analytics.success_rate(1, 2) == 33.3
    assert analytics.success_rate(0, 0) is None


def test_playbook_summary_counts_finished_runs_per_status(data):
    rows = analytics.playbook_summary(period(7))
    assert [
        (r["name"], r["runs"], r["success"], r["failed"], r["cancelled"], r["success_rate"])
        for r in rows
    ] == [("Deploy", 5, 3, 1, 1, 75.0), ("Backup", 2, 0, 2, 0, 0.0)]
    wider = {r["name"]: r for r in analytics.playbook_summary(period(90))}
    assert (wider["Backup"]["runs"], wider["Backup"]["success_rate"]) == (3, 33.3)


def test_an_empty_period_gives_empty_figures(data):
    empty = analytics.period(7, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert analytics.playbook_summary(empty) == []
    assert analytics.top_servers(empty) == []
    assert analytics.top_failures(empty) == []
    assert analytics.change_impact(empty) == []
    assert analytics.user_activity(empty) == []
    assert analytics.heatmap(empty, UTC) == [[0] * 24 for _ in range(7)]
    trend = analytics.duration_trends(empty, [data["deploy"].pk])[data["deploy"].pk]
    assert len(trend) == 7 and all(runs == 0 and m is None and p is None for _, runs, m, p in trend)


def test_duration_median_and_p95_per_day_come_from_the_histogram(data):
    trend = analytics.duration_trends(period(7), [data["deploy"].pk])[data["deploy"].pk]
    by_day = {day: (runs, median, p95) for day, runs, median, p95 in trend}
    # 4, 8, 40, 100 s: the 2nd run (nearest rank) is in the "<= 10 s" bucket, the 4th in
    # "<= 120 s" capped at the longest run, 100 s. The cancelled run on 9 March never started.
    assert by_day[date(2026, 3, 10)] == (4, 10.0, 100.0)
    assert by_day[date(2026, 3, 9)] == (0, None, None)
    assert by_day[date(2026, 3, 11)] == (0, None, None)


@pytest.mark.parametrize(
    "counts, q, longest, expected",
    [
        ([], 0.5, 0, None),
        ([1] + [0] * 15, 0.5, 0.4, 0.4),
        ([0, 0, 1, 1] + [0] * 12, 0.5, 9, 5.0),
        ([0] * 15 + [2], 0.95, 20000, 20000.0),
        ([10] + [0] * 14 + [1], 0.9, 50000, 1.0),
        ([10] + [0] * 14 + [1], 0.99, 50000, 50000.0),
    ],
)
def test_percentile_from_histogram(counts, q, longest, expected):
    assert analytics.percentile_from_histogram(counts, q, longest) == expected


def test_duration_buckets_edges():
    assert [duration_bucket(s) for s in (0, 1, 1.5, 5, 5.01, 14400, 14401)] == [
        0,
        0,
        1,
        2,
        3,
        14,
        15,
    ]


def test_most_targeted_servers(data):
    rows = analytics.top_servers(period(7))
    assert [(r["server__hostname"], r["runs"], r["failed"]) for r in rows] == [
        ("web01.example.net", 6, 2),
        ("db01", 1, 1),
    ]


def test_top_failure_messages_are_grouped_with_their_last_occurrence(data):
    rows = analytics.top_failures(period(7))
    assert [(r["message"], r["runs"]) for r in rows] == [
        ("Host <host> unreachable: <path> failed", 2),
        ("Connection to <ip> port <n> timed out after <n>s", 1),
    ]
    # Last occurrence: the later failure finished at 20:30 + 1 s start + 3 s run.
    assert rows[0]["last_seen"] == at(8, 20, 30) + timedelta(seconds=4)


@pytest.mark.parametrize(
    "message, expected",
    [
        (
            "ssh: connect to host web12.example.net port 22: Connection timed out",
            "ssh: connect to host <host> port <n>: Connection timed out",
        ),
        ("fatal: [192.168.1.20:2222]: UNREACHABLE!", "fatal: [<ip>]: UNREACHABLE!"),
        ("no route to fe80::1 or 2001:db8::2", "no route to <ip> or <ip>"),
        ("job 3f2a9c1e-1111-2222-3333-444455556666 lost", "job <id> lost"),
        ("could not read /etc/app/conf.d/x.yml", "could not read <path>"),
        (
            "error in site.yml via ansible.builtin.copy",
            "error in site.yml via ansible.builtin.copy",
        ),
        ("took 12:30:45   then\n  died", "took <n>:<n>:<n> then died"),
        ("", "(no error message)"),
    ],
)
def test_error_messages_are_normalised(message, expected):
    assert normalise_error(message) == expected


def test_heatmap_is_in_the_viewers_time_zone(data):
    utc = analytics.heatmap(period(7), UTC)
    assert utc[1][10] == 3 and utc[1][11] == 1  # Tuesday 10:00 and 11:00 UTC
    assert utc[6][20] == 2 and utc[0][9] == 1  # Sunday 20:00, Monday 09:00
    assert sum(map(sum, utc)) == 7  # the February run is outside the period
    kolkata = analytics.heatmap(period(7), zoneinfo.ZoneInfo("Asia/Kolkata"))
    # +05:30: Tue 10:00 -> 15:30, 11:00 -> 16:30; Sun 20:00 and 20:30 -> Mon 01:30 and 02:00.
    assert kolkata[1][15] == 3 and kolkata[1][16] == 1
    assert kolkata[0][1] == 1 and kolkata[0][2] == 1 and kolkata[6][20] == 0
    new_york = analytics.heatmap(period(7), zoneinfo.ZoneInfo("America/New_York"))
    # DST began on Sunday 8 March: Sun 20:00 UTC is 16:00 EDT, Mon 9 March 09:00 UTC is 05:00 EDT.
    assert new_york[6][16] == 2 and new_york[0][5] == 1 and new_york[1][6] == 3


def test_user_activity_counts_audit_actions_in_the_period(user):
    adam, eve = UserFactory(username="adam2"), UserFactory(username="eve")
    inside, outside = at(10), at(1)
    for action in ("UPDATE", "UPDATE", "UPDATE", "LOGIN"):
        AuditLogFactory(user=adam, action=action, timestamp=inside)
    AuditLogFactory(user=adam, action="DELETE", timestamp=outside)
    AuditLogFactory(user=eve, action="LOGIN", timestamp=inside)
    AuditLogFactory(user=eve, action="LOGIN", timestamp=at(11, 11, 59))
    AuditLogFactory(user=None, action=AuditLog.Action.PURGE, timestamp=inside)
    refresh_audit_stats()  # the schedule's job: the figures read the rollup only
    rows = analytics.user_activity(period(7))
    assert [(r["username"], r["total"], r["actions"]) for r in rows] == [
        ("adam2", 4, [("UPDATE", 3), ("LOGIN", 1)]),
        ("eve", 2, [("LOGIN", 2)]),
        ("system", 1, [("PURGE", 1)]),
    ]


# --- change impact --------------------------------------------------------------------------


@pytest.fixture
def history(user):
    """Web: v1 (9 of 10 succeed) then v2 (3 of 6): a 40-point drop. Db: v1 80 %, v2 65 %:
    15 points, not flagged. Cache: v2 has 4 runs only: too few to judge."""
    server = ServerFactory()
    now = timezone.now()
    playbooks = {}
    plan = {
        "Web": ((9, 1), (3, 3)),
        "Db": ((8, 2), (13, 7)),
        "Cache": ((10, 0), (0, 4)),
    }
    for name, ((ok1, ko1), (ok2, ko2)) in plan.items():
        pb = PlaybookFactory(name=name)
        v1 = PlaybookVersionFactory(
            playbook_id=pb.pk,
            playbook_name=name,
            action="created",
            new_sha256=f"{name}-v1",
            created_at=now - timedelta(days=9),
        )
        v2 = PlaybookVersionFactory(
            playbook_id=pb.pk,
            playbook_name=name,
            action="updated",
            new_sha256=f"{name}-v2",
            created_at=now - timedelta(days=4),
        )
        for sha, ok, ko, days_ago in ((v1.new_sha256, ok1, ko1, 6), (v2.new_sha256, ok2, ko2, 3)):
            for i in range(ok + ko):
                status = S if i < ok else F
                created = now - timedelta(days=days_ago)
                finished_job(pb, server, user, created=created, status=status, seconds=5, sha=sha)
        playbooks[name] = (pb, v1, v2)
    return playbooks


def test_change_impact_flags_a_clear_drop_only(history):
    last_week = analytics.period(7)
    impact = {p["name"]: p for p in analytics.change_impact(last_week)}
    assert [p["name"] for p in analytics.change_impact(last_week)] == ["Web", "Cache", "Db"]
    pb, v1, v2 = history["Web"]
    old, new = impact["Web"]["versions"]
    assert (old["sha256"], old["runs"], old["success_rate"], old["audit_id"]) == (
        "Web-v1",
        10,
        90.0,
        v1.pk,
    )
    assert (new["sha256"], new["runs"], new["success_rate"], new["audit_id"]) == (
        "Web-v2",
        6,
        50.0,
        v2.pk,
    )
    assert new["flagged"] and not old["flagged"] and new["previous"] is old
    assert not any(v["flagged"] for v in impact["Db"]["versions"])  # 80 -> 65: 15 points
    assert not any(v["flagged"] for v in impact["Cache"]["versions"])  # 4 runs: too few


def test_analytics_page_links_a_flagged_version_to_its_diff_and_restore(as_admin, history):
    pb, v1, v2 = history["Web"]
    page = as_admin.get("/analytics/?period=90").content.decode()
    assert f"/playbooks/{pb.pk}/diff/?from={v1.pk}&amp;to={v2.pk}" in page
    assert f'action="/playbooks/{pb.pk}/restore/{v1.pk}/"' in page
    assert page.count("Restore the previous version") == 1


def test_users_see_the_regression_but_no_restore_button(as_user, history):
    pb, v1, v2 = history["Web"]
    page = as_user.get("/analytics/?period=90").content.decode()
    assert f"/playbooks/{pb.pk}/diff/?from={v1.pk}&amp;to={v2.pk}" in page
    assert "/restore/" not in page and "Recommend a rollback" in page


# --- the rollups ----------------------------------------------------------------------------


def _snapshot():
    def rows(model, *fields):
        return sorted(model.objects.values_list(*fields))

    hist = [f"h{i}" for i in range(16)]
    return (
        rows(
            JobDailyStat,
            "day",
            "playbook_id",
            "playbook_sha256",
            "status",
            "runs",
            "timed_runs",
            "duration_sum",
            "duration_max",
            *hist,
        ),
        rows(JobServerDailyStat, "day", "server_id", "runs", "failed"),
        rows(JobActivityStat, "bucket", "runs"),
        rows(JobFailureStat, "day", "signature", "message", "runs", "last_seen"),
    )


def test_rebuild_gives_the_same_rollups_as_finishing_jobs_one_by_one(data):
    incremental = _snapshot()
    assert incremental[0] and incremental[3]
    JobDailyStat.objects.all().delete()
    JobFailureStat.objects.update(runs=99)
    out = call_command_output("rebuild_job_stats", "--batch-size", "3")
    assert "Done. Rebuilt the job statistics from 8 finished jobs." in out
    assert _snapshot() == incremental


def test_rebuild_rejects_a_bad_batch_size():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rebuild_job_stats", "--batch-size", "0")


def test_a_refused_transition_does_not_count_twice(data):
    job = Job.objects.filter(status=S).first()
    before = _snapshot()
    with pytest.raises(Exception, match="not allowed"):
        job.transition(F, completed_at=NOW)
    assert _snapshot() == before
    assert rebuild_job_stats() == 8 and _snapshot() == before


def call_command_output(*args):
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_job_finished_by_two_processes_counts_once(data, user):
    running = JobFactory(status=Job.Status.RUNNING, user=user, created_at=NOW, started_at=NOW)
    worker, canceller = Job.objects.get(pk=running.pk), Job.objects.get(pk=running.pk)
    before = JobDailyStat.objects.aggregate(n=Sum("runs"))["n"]
    assert worker.finish(S) is True
    assert canceller.finish(C) is False and canceller.status == S
    assert JobDailyStat.objects.aggregate(n=Sum("runs"))["n"] == before + 1


@pytest.mark.parametrize("error", [DatabaseError("rollup table is locked"), KeyError("bug")])
def test_a_rollup_error_never_stops_a_job_from_finishing(data, user, monkeypatch, caplog, error):
    from insights import rollup

    def broken(job):
        raise error

    monkeypatch.setattr(rollup, "_record", broken)
    running = JobFactory(status=Job.Status.RUNNING, user=user, created_at=NOW, started_at=NOW)
    assert running.finish(F, error_message="boom") is True
    assert Job.objects.get(pk=running.pk).status == F
    assert "Could not count job" in caplog.text


def test_audit_rows_are_counted_once_however_often_the_rollup_refreshes(user):
    refresh_audit_stats()  # what creating the personas wrote (today, outside the period)
    AuditLogFactory(user=user, action="RUN", timestamp=at(10))
    assert refresh_audit_stats() == 1 and refresh_audit_stats() == 0
    AuditLogFactory(user=user, action="RUN", timestamp=at(10, 11))
    AuditLogFactory(user=None, action="PURGE", timestamp=at(9))
    assert refresh_audit_stats() == 2
    assert [(r["username"], r["total"]) for r in analytics.user_activity(period(7))] == [
        ("ursula", 2),
        ("system", 1),
    ]
    assert AuditDailyStat.objects.get(user_id=user.pk, action="RUN").count == 2


def test_audit_refresh_reads_in_bounded_batches_and_rebuild_recounts(user):
    refresh_audit_stats()  # what creating the personas wrote (today, outside the period)
    for hour in range(5):
        AuditLogFactory(user=user, action="UPDATE", timestamp=at(10, hour))
    march_10 = AuditDailyStat.objects.filter(day=date(2026, 3, 10))
    assert refresh_audit_stats(max_rows=2) == 2
    assert march_10.get().count == 2
    march_10.update(count=77)
    before = AuditLog.objects.count()
    assert rebuild_audit_stats() == before and march_10.get().count == 5


def test_a_deleted_users_actions_stay_counted(user):
    ghost = UserFactory(username="ghost")
    AuditLogFactory(user=ghost, action="LOGIN", timestamp=at(10))
    refresh_audit_stats()
    ghost_id = ghost.pk
    AuditLog.objects.filter(user=ghost).delete()  # only once the trail no longer names them
    ghost.delete()
    rows = analytics.user_activity(period(7))
    assert [(r["username"], r["total"]) for r in rows] == [(f"deleted user #{ghost_id}", 1)]


def test_analytics_page_cuts_long_lists_and_says_how_many_were_left_out(as_user, user):
    server, now = ServerFactory(), timezone.now()
    for i in range(22):
        playbook = PlaybookFactory(name=f"Playbook {i:02d}")
        for _ in range(2 if i < 20 else 1):
            finished_job(playbook, server, user, created=now, status=S, seconds=1)
    page = as_user.get("/analytics/?period=7").content.decode()
    assert "and 2 more playbooks with fewer runs." in page
    assert "Playbook 19" in page and "Playbook 21</a>" not in page
    # Every playbook ran a single version: nothing to compare in the change-impact section.
    assert "No playbook ran more than one version in this period." in page


def test_the_page_heatmap_uses_the_viewers_time_zone(as_user, user):
    user.timezone = "Asia/Kolkata"
    user.save()
    yesterday = timezone.now().astimezone(UTC).date() - timedelta(days=1)
    launched = datetime.combine(yesterday, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    finished_job(PlaybookFactory(), ServerFactory(), user, created=launched, status=S, seconds=1)
    page = as_user.get("/analytics/?period=7").content.decode()
    weekday = launched.strftime("%a")  # 10:00 UTC is 15:30 the same day in Kolkata
    assert f"<title>{weekday} 15:00: 1 runs</title>" in page
    assert f"<title>{weekday} 10:00: 0 runs</title>" in page
    assert "(Asia/Kolkata)" in page


def test_a_job_loaded_with_only_some_fields_is_counted_in_full(user, django_assert_max_num_queries):
    server = ServerFactory(hostname="lean.example.net")
    created = at(10, 10)
    running = JobFactory(
        status=Job.Status.RUNNING, user=user, server=server, created_at=created, started_at=created
    )
    lean = Job.objects.only("id", "job_id", "status", "worker", "started_at", "stats").get(
        pk=running.pk
    )
    # The values it overwrites, update, audit row, one read of the row, four upserts,
    # savepoints: not one per field.
    with django_assert_max_num_queries(12):
        assert lean.finish(F, error_message="worker lost")
    assert [(r["server__hostname"], r["runs"]) for r in analytics.top_servers(period(7))] == [
        ("lean.example.net", 1)
    ]


def test_the_audit_figures_wait_for_the_scheduled_refresh(user):
    refresh_audit_stats()  # what creating the personas wrote
    AuditLogFactory(user=user, action="RUN", timestamp=at(10))
    assert analytics.user_activity(period(7)) == []  # not counted until the refresh runs
    out = call_command_output("refresh_audit_stats")
    assert "Done. Counted 1 new audit rows." in out
    assert [(r["username"], r["total"]) for r in analytics.user_activity(period(7))] == [
        ("ursula", 1)
    ]
    assert "Done. Counted 0 new audit rows." in call_command_output("refresh_audit_stats")


def test_the_scheduled_refresh_catches_up_in_bounded_batches(user):
    refresh_audit_stats()
    for hour in range(5):
        AuditLogFactory(user=user, action="UPDATE", timestamp=at(10, hour))
    out = call_command_output("refresh_audit_stats", "--batch-size", "2")
    assert "Done. Counted 5 new audit rows." in out
    assert AuditDailyStat.objects.get(day=date(2026, 3, 10), user_id=user.pk).count == 5
    with pytest.raises(CommandError, match="at least 1"):
        call_command("refresh_audit_stats", "--batch-size", "0")
