"""``/metrics``: the app's figures in the Prometheus text format.

Every figure is read from the database when Prometheus scrapes, never kept in a process: the
answer is the same whichever gunicorn worker serves it, and a restart loses nothing. Each read
is bounded (an index range, a small table or a rollup), so a scrape stays cheap at a million
jobs:
- jobs pending and running: the (status, created_at) index, a handful of rows;
- finished jobs by status and the job duration histogram: the insights rollup
  (job_daily_stats), whose rows are per day, playbook version and status;
- console lines stored: the highest job_logs id (ids only grow; purges do not lower it);
- queued tasks: the broker's own queue size;
- failed logins in the last hour: the audit_logs timestamp index;
- servers whose last poll failed: the servers table.
"""

from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Max, Sum
from django.utils import timezone
from django_q.brokers import get_broker
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from auditing.models import AuditLog
from automation.models import Job, JobLog
from insights.models import DURATION_EDGES, JobDailyStat
from inventory.models import Server

LIVE_STATUSES = (Job.Status.PENDING, Job.Status.RUNNING)
FINAL_STATUSES = (Job.Status.SUCCESS, Job.Status.FAILED, Job.Status.CANCELLED)


class AppCollector(Collector):
    """Reads the figures at scrape time (see the module docstring for what each costs)."""

    def collect(self) -> Iterator[Metric]:
        live = GaugeMetricFamily(
            "infra_jobs", "Jobs waiting or running now, by status.", labels=["status"]
        )
        for status in LIVE_STATUSES:
            live.add_metric([status], Job.objects.filter(status=status).count())
        yield live

        finished = CounterMetricFamily(
            "infra_jobs_finished", "Jobs that reached a final status.", labels=["status"]
        )
        totals = dict(
            JobDailyStat.objects.values_list("status").annotate(runs=Sum("runs")).order_by()
        )
        for status in FINAL_STATUSES:
            finished.add_metric([status], totals.get(status) or 0)
        yield finished

        yield self._duration_histogram()

        yield GaugeMetricFamily(
            "infra_queue_tasks",
            "Tasks waiting in the broker's queue (jobs and scheduled commands).",
            value=get_broker().queue_size() or 0,
        )
        stored = JobLog.objects.aggregate(last=Max("id"))["last"] or 0
        yield CounterMetricFamily(
            "infra_console_lines_stored", "Console lines ever stored.", value=stored
        )
        since = timezone.now() - timedelta(hours=1)
        yield GaugeMetricFamily(
            "infra_failed_logins_last_hour",
            "Failed login attempts in the last hour.",
            value=AuditLog.objects.filter(
                timestamp__gte=since, action=AuditLog.Action.LOGIN_FAILED
            ).count(),
        )
        yield GaugeMetricFamily(
            "infra_servers_poll_failed",
            "Active servers whose last metrics poll or connection test failed.",
            value=Server.objects.filter(is_active=True).exclude(last_error="").count(),
        )

    def _duration_histogram(self) -> HistogramMetricFamily:
        fields = [f"h{i}" for i in range(len(DURATION_EDGES))]
        sums = JobDailyStat.objects.aggregate(
            total=Sum("duration_sum"),
            timed=Sum("timed_runs"),
            **{field: Sum(field) for field in fields},
        )
        buckets, running = [], 0
        for edge, field in zip(DURATION_EDGES, fields, strict=True):
            running += sums[field] or 0
            buckets.append(("+Inf" if edge is None else str(float(edge)), running))
        return HistogramMetricFamily(
            "infra_job_duration_seconds",
            "Wall time of finished jobs that started, from start to end.",
            buckets=buckets,
            sum_value=sums["total"] or 0,
        )


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(AppCollector())
