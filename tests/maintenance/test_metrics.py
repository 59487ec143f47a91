"""/metrics: the Prometheus figures match the data, and only allowed scrapers get them."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from auditing.models import AuditLog
from automation.models import Job, JobLog
from insights.rollup import rebuild_job_stats
from tests.factories import JobFactory, ServerFactory

pytestmark = pytest.mark.django_db


def scrape(client=None, **headers):
    response = (client or Client()).get("/metrics", **headers)
    return response


def samples(response):
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            found[key] = sample.value
    return found


def finished(status, seconds):
    started = timezone.now() - timedelta(hours=1)
    return JobFactory(
        status=status, started_at=started, completed_at=started + timedelta(seconds=seconds)
    )


def test_metrics_match_the_data(settings):
    JobFactory(status=Job.Status.PENDING)
    JobFactory(status=Job.Status.RUNNING, started_at=timezone.now())
    finished(Job.Status.SUCCESS, 1.5)
    finished(Job.Status.SUCCESS, 45)
    failed = finished(Job.Status.FAILED, 400)
    rebuild_job_stats()
    JobLog.objects.bulk_create(JobLog(job=failed, line_number=n, content="x") for n in (1, 2, 3))
    AuditLog.objects.create(action=AuditLog.Action.LOGIN_FAILED, resource_type="user")
    old = AuditLog.objects.create(action=AuditLog.Action.LOGIN_FAILED, resource_type="user")
    AuditLog.objects.filter(pk=old.pk).update(timestamp=timezone.now() - timedelta(hours=2))
    ServerFactory(last_error="Unreachable: connection refused")
    ServerFactory(last_error="Unreachable", is_active=False)

    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    got = samples(response)
    assert got["infra_jobs", (("status", "pending"),)] == 1
    assert got["infra_jobs", (("status", "running"),)] == 1
    assert got["infra_jobs_finished_total", (("status", "success"),)] == 2
    assert got["infra_jobs_finished_total", (("status", "failed"),)] == 1
    assert got["infra_jobs_finished_total", (("status", "cancelled"),)] == 0
    assert got["infra_job_duration_seconds_bucket", (("le", "2.0"),)] == 1
    assert got["infra_job_duration_seconds_bucket", (("le", "60.0"),)] == 2
    assert got["infra_job_duration_seconds_bucket", (("le", "300.0"),)] == 2
    assert got["infra_job_duration_seconds_bucket", (("le", "+Inf"),)] == 3
    assert got["infra_job_duration_seconds_count", ()] == 3
    assert got["infra_job_duration_seconds_sum", ()] == pytest.approx(446.5)
    assert got["infra_console_lines_stored_total", ()] == JobLog.objects.latest("id").id
    assert got["infra_failed_logins_last_hour", ()] == 1
    assert got["infra_servers_poll_failed", ()] == 1
    assert ("infra_queue_tasks", ()) in got


def test_metrics_query_count_does_not_grow_with_data(django_assert_max_num_queries):
    for _ in range(20):
        finished(Job.Status.SUCCESS, 3)
    rebuild_job_stats()
    with django_assert_max_num_queries(9):
        assert scrape().status_code == 200


def test_metrics_refuse_other_addresses_unless_the_token_is_given(settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    outsider = Client(REMOTE_ADDR="203.0.113.9")
    assert scrape(outsider).status_code == 403
    assert scrape(outsider, HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert scrape(outsider, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    settings.METRICS_TOKEN = ""
    assert scrape(outsider, HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_allow_configured_networks(settings):
    import ipaddress

    settings.METRICS_ALLOWED_NETWORKS = [ipaddress.ip_network("10.20.0.0/16")]
    assert scrape(Client(REMOTE_ADDR="10.20.3.4")).status_code == 200
    assert scrape(Client(REMOTE_ADDR="127.0.0.1")).status_code == 403


def test_metrics_need_no_login_and_only_get():
    assert scrape().status_code == 200
    assert Client().post("/metrics").status_code == 405
