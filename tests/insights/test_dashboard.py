"""Dashboard figures (exact numbers, viewer's "today"), the live running-jobs block, access,
escaping and query counts of the dashboard and analytics pages."""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation.models import Job
from insights import analytics
from tests.factories import AuditLogFactory, JobFactory, PlaybookFactory, ServerFactory
from tests.insights.analytics_data import finished_job

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def job(status, created, **kwargs):
    return JobFactory(status=status, created_at=created, **kwargs)


@pytest.fixture
def jobs(db):
    playbook, server = PlaybookFactory(), ServerFactory()
    common = {"playbook": playbook, "server": server, "user": None}
    job(Job.Status.SUCCESS, datetime(2026, 3, 10, 16, tzinfo=UTC), **common)  # today in Tokyo only
    job(Job.Status.SUCCESS, datetime(2026, 3, 11, 1, tzinfo=UTC), **common)
    job(Job.Status.FAILED, datetime(2026, 3, 11, 2, tzinfo=UTC), **common)
    job(Job.Status.RUNNING, datetime(2026, 3, 11, 3, tzinfo=UTC), **common)
    job(Job.Status.PENDING, NOW - timedelta(days=5), **common)
    job(Job.Status.SUCCESS, NOW - timedelta(days=10), **common)
    job(Job.Status.FAILED, NOW - timedelta(days=20), **common)
    job(Job.Status.SUCCESS, NOW - timedelta(days=40), **common)  # outside 30 days
    job(Job.Status.CANCELLED, NOW - timedelta(days=3), **common)  # not in success rates


def counts(pairs):
    return dict(pairs)


def test_dashboard_counts_jobs_by_status_for_today_and_7_days_in_the_viewers_zone(jobs):
    tokyo = analytics.dashboard_figures(tz=TOKYO, now=NOW)
    assert counts(tokyo["jobs_today"]) == {
        "Pending": 0,
        "Running": 1,
        "Success": 2,
        "Failed": 1,
        "Cancelled": 0,
    }
    assert tokyo["jobs_today_total"] == 4
    assert counts(tokyo["jobs_week"]) == {
        "Pending": 1,
        "Running": 1,
        "Success": 2,
        "Failed": 1,
        "Cancelled": 1,
    }
    assert tokyo["jobs_week_total"] == 6
    utc = analytics.dashboard_figures(tz=UTC, now=NOW)
    assert counts(utc["jobs_today"])["Success"] == 1 and utc["jobs_today_total"] == 3


def test_success_rates_over_7_and_30_days(jobs):
    figures = analytics.dashboard_figures(tz=TOKYO, now=NOW)
    assert figures["success_rate_7"] == 66.7  # 2 of 3 (the cancelled run is left out)
    assert figures["success_rate_30"] == 60.0  # 3 of 5


def test_no_finished_jobs_shows_a_dash_not_a_division_by_zero(as_user):
    figures = analytics.dashboard_figures(tz=UTC, now=NOW)
    assert figures["success_rate_7"] is None and figures["success_rate_30"] is None
    assert figures["jobs_today_total"] == 0
    page = as_user.get("/").content.decode()
    assert '<span class="tile-value" id="success-7">—</span>' in page
    assert "No jobs yet." in page and "No job is running." in page


def test_server_tiles_count_hot_and_unmonitored_active_servers(db):
    now = timezone.now()
    fresh = now - timedelta(minutes=5)
    ServerFactory(cpu_usage=95, last_monitored=fresh)
    ServerFactory(memory_usage=91, last_monitored=now - timedelta(minutes=11))
    ServerFactory(disk_usage=90, last_monitored=fresh)  # at 90 %, not above
    ServerFactory(hostname="never.example.net", last_monitored=None)
    ServerFactory(cpu_usage=99, is_active=False, last_monitored=None)
    figures = analytics.dashboard_figures(tz=UTC, now=now)
    assert (figures["servers_active"], figures["servers_hot"], figures["servers_stale"]) == (
        4,
        2,
        1,
    )
    # Never polled (just added) is its own figure, not "stale".
    assert figures["servers_never_polled"] == 1
    stale = analytics.stale_servers(now=now)
    assert [s.last_monitored for s in stale] == [now - timedelta(minutes=11)]


def test_a_server_whose_last_poll_failed_is_failing_however_recent_the_poll(as_user):
    now = timezone.now()
    ServerFactory(hostname="broken.example.net", last_monitored=now, last_error="timed out")
    ServerFactory(hostname="fine.example.net", last_monitored=now)
    ServerFactory(hostname="gone.example.net", last_error="old", is_active=False)
    assert analytics.dashboard_figures(tz=UTC, now=now)["servers_failing"] == 1
    assert [s.hostname for s in analytics.failing_servers()] == ["broken.example.net"]
    page = as_user.get("/").content.decode()
    assert 'id="servers-failing">1<' in page and 'id="failing-servers"' in page
    assert "broken.example.net" in page


def test_dashboard_lists_the_last_10_jobs_with_links(as_user):
    playbook, server = PlaybookFactory(), ServerFactory()
    made = [
        job(
            Job.Status.SUCCESS,
            timezone.now() - timedelta(minutes=i),
            playbook=playbook,
            server=server,
            user=None,
        )
        for i in range(12)
    ]
    page = as_user.get("/").content.decode()
    for recent in made[:10]:
        assert f'href="/jobs/{recent.job_id}/"' in page
    assert str(made[10].job_id) not in page and str(made[11].job_id) not in page


def test_running_jobs_block_is_polled_and_answers_with_the_partial_only(as_user):
    running = JobFactory(status=Job.Status.RUNNING, started_at=timezone.now())
    page = as_user.get("/").content.decode()
    assert 'hx-get="/dashboard/running/"' in page and 'hx-trigger="every 5s"' in page
    response = as_user.get("/dashboard/running/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert body.lstrip().startswith('<section id="running-jobs"') and "<html" not in body
    assert f'href="/jobs/{running.job_id}/"' in body and 'id="running-count">1<' in body


@pytest.mark.parametrize("url", ["/", "/analytics/", "/dashboard/running/"])
def test_anonymous_visitors_are_sent_to_login(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 302 and response.url.startswith("/login/")


@pytest.mark.parametrize("persona", ["as_user", "as_admin", "as_super_admin"])
def test_everyone_logged_in_sees_dashboard_and_analytics(request, persona):
    client = request.getfixturevalue(persona)
    assert client.get("/").status_code == 200
    page = client.get("/analytics/")
    assert page.status_code == 200 and b'href="/analytics/"' in page.content


@pytest.mark.parametrize("raw", ["8", "abc", "-1", "30%00", "1e9", "9" * 500])
def test_a_bad_period_shows_30_days_and_says_so(as_user, raw):
    response = as_user.get("/analytics/", {"period": raw})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Period must be one of 7, 30, 90 days; showing 30." in page
    assert '<a class="btn small primary" href="?period=30"' in page


def test_analytics_escapes_names_and_error_messages(as_user, user):
    evil = "<script>alert(1)</script>"
    playbook = PlaybookFactory(name=evil)
    server = ServerFactory(hostname="evil.example.net")
    now = timezone.now()
    finished_job(
        playbook,
        server,
        user,
        created=now,
        status=Job.Status.FAILED,
        seconds=3,
        error=f"boom {evil}",
    )
    page = as_user.get("/analytics/?period=7").content.decode()
    assert evil not in page and "&lt;script&gt;alert(&lt;n&gt;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def _grow(user, n):
    """n finished jobs over several playbooks, servers, days and statuses, plus live ones."""
    now = timezone.now()
    playbooks = [PlaybookFactory() for _ in range(3)]
    servers = [ServerFactory() for _ in range(3)]
    statuses = [Job.Status.SUCCESS, Job.Status.FAILED, Job.Status.CANCELLED]
    for i in range(n):
        finished_job(
            playbooks[i % 3],
            servers[i % 3],
            user,
            created=now - timedelta(days=i % 20, hours=i % 7),
            status=statuses[i % 3],
            seconds=i,
            error=f"error {i} on 10.0.0.{i % 250}",
        )
        JobFactory(
            playbook=playbooks[i % 3],
            server=servers[i % 3],
            user=user,
            status=Job.Status.RUNNING,
            created_at=now - timedelta(minutes=i),
        )
        AuditLogFactory(user=user if i % 2 else None, action=["RUN", "LOGIN"][i % 2])


# Sessions + user, then the page's own queries: a fixed number whatever the data size.
# One more than before for the failing servers list.
DASHBOARD_QUERIES = 12
# Analytics only reads: the audit rollup is brought up to date by a schedule, not by the page.
ANALYTICS_QUERIES = 11
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b|\bFOR UPDATE\b", re.IGNORECASE)


@pytest.mark.parametrize("size", [0, 2, 30])
def test_dashboard_and_analytics_query_counts_do_not_grow_with_data(
    as_admin, admin, size, django_assert_max_num_queries
):
    _grow(admin, size)
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        assert as_admin.get("/").status_code == 200
    with django_assert_max_num_queries(ANALYTICS_QUERIES):
        assert as_admin.get("/analytics/?period=90").status_code == 200
    with django_assert_max_num_queries(5):
        assert as_admin.get("/dashboard/running/").status_code == 200


@pytest.mark.parametrize("size", [0, 30])
def test_the_analytics_page_never_writes(as_admin, admin, size):
    _grow(admin, size)
    with CaptureQueriesContext(connection) as queries:
        assert as_admin.get("/analytics/?period=90").status_code == 200
    assert [q["sql"] for q in queries.captured_queries if WRITES.search(q["sql"])] == []
