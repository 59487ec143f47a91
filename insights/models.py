"""The analytics rollups: small tables the dashboard and analytics pages read instead of scanning
jobs and audit_logs.

The job rollups are kept in step by the ``job_finished`` signal the job lifecycle sends (one upsert
per table when a job reaches a final status, see insights/rollup.py); the audit rollup is filled
from audit_logs on a schedule (``refresh_audit_stats``); ``manage.py rebuild_job_stats`` rebuilds
them all. Every job row is keyed by the job's created_at (UTC), so a job counts on the
day/quarter-hour it was launched.

These models moved here from automation without touching the database: ``db_table`` names the
tables they always had (see migrations/0001_initial.py).
"""

from django.db import models

from automation.models import Job, Playbook

# Upper edges (seconds) of the duration histogram buckets; the last bucket is open-ended.
DURATION_EDGES = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, None)


class JobDailyStat(models.Model):
    """Finished runs of one playbook version, per UTC day and final status, with a histogram of
    their durations (h0..h15 count runs whose duration falls under DURATION_EDGES[i])."""

    day = models.DateField()
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="+")
    playbook_sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Job.Status.choices)
    runs = models.PositiveIntegerField(default=0)
    # Runs that started (a job cancelled while pending has no duration).
    timed_runs = models.PositiveIntegerField(default=0)
    duration_sum = models.FloatField(default=0)
    duration_max = models.FloatField(default=0)
    h0 = models.PositiveIntegerField(default=0)
    h1 = models.PositiveIntegerField(default=0)
    h2 = models.PositiveIntegerField(default=0)
    h3 = models.PositiveIntegerField(default=0)
    h4 = models.PositiveIntegerField(default=0)
    h5 = models.PositiveIntegerField(default=0)
    h6 = models.PositiveIntegerField(default=0)
    h7 = models.PositiveIntegerField(default=0)
    h8 = models.PositiveIntegerField(default=0)
    h9 = models.PositiveIntegerField(default=0)
    h10 = models.PositiveIntegerField(default=0)
    h11 = models.PositiveIntegerField(default=0)
    h12 = models.PositiveIntegerField(default=0)
    h13 = models.PositiveIntegerField(default=0)
    h14 = models.PositiveIntegerField(default=0)
    h15 = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "job_daily_stats"
        constraints = [
            # The upsert key, and the index the period queries range over (day first).
            models.UniqueConstraint(
                fields=["day", "playbook", "playbook_sha256", "status"], name="uniq_job_daily_stat"
            ),
        ]
        indexes = [
            # Covers the per-playbook and per-version counts: an index-only range over days.
            models.Index(
                fields=["day", "playbook", "playbook_sha256", "status", "runs"],
                name="idx_job_daily_stat_runs",
            ),
        ]

    def __str__(self):
        return f"{self.day} playbook {self.playbook_id} {self.status}: {self.runs}"


class JobServerDailyStat(models.Model):
    """Finished runs against one server per UTC day (most-targeted servers)."""

    day = models.DateField()
    server = models.ForeignKey("inventory.Server", on_delete=models.CASCADE, related_name="+")
    runs = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "job_server_daily_stats"
        constraints = [
            models.UniqueConstraint(fields=["day", "server"], name="uniq_job_server_daily_stat"),
        ]
        indexes = [
            # Covers the most-targeted servers query: an index-only range over days.
            models.Index(
                fields=["day", "server", "runs", "failed"], name="idx_job_server_stat_runs"
            ),
        ]

    def __str__(self):
        return f"{self.day} server {self.server_id}: {self.runs}"


class JobActivityStat(models.Model):
    """Finished runs per quarter hour of launch (UTC). Quarter hours, not hours, so the
    weekday x hour heatmap is exact in every time zone (all offsets are multiples of 15 min)."""

    bucket = models.DateTimeField(unique=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "job_activity_stats"

    def __str__(self):
        return f"{self.bucket:%Y-%m-%d %H:%M}: {self.runs}"


class JobFailureStat(models.Model):
    """Failed runs per UTC day and normalised error message (numbers, ids, addresses and paths
    replaced by placeholders), with the time of the last one."""

    day = models.DateField()
    signature = models.CharField(max_length=40)  # sha1 of ``message``
    message = models.CharField(max_length=500)
    runs = models.PositiveIntegerField(default=0)
    last_seen = models.DateTimeField()

    class Meta:
        db_table = "job_failure_stats"
        constraints = [
            models.UniqueConstraint(fields=["day", "signature"], name="uniq_job_failure_stat"),
        ]

    def __str__(self):
        return f"{self.day} {self.message[:40]}: {self.runs}"


class AuditDailyStat(models.Model):
    """audit_logs rows per UTC day, user and action ("most active users"). Filled from
    audit_logs in id order by ``insights.rollup.refresh_audit_stats``; ``user_id`` 0 stands for
    system actions (no user), so the upsert key never holds a NULL."""

    day = models.DateField()
    user_id = models.PositiveBigIntegerField()
    action = models.CharField(max_length=32)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "audit_daily_stats"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "user_id", "action"], name="uniq_audit_daily_stat"
            ),
        ]

    def __str__(self):
        return f"{self.day} user {self.user_id} {self.action}: {self.count}"


class RollupWatermark(models.Model):
    """How far an incremental rollup has read its source table (the last id counted)."""

    name = models.CharField(max_length=40, primary_key=True)
    last_id = models.PositiveBigIntegerField(default=0)

    class Meta:
        db_table = "rollup_watermarks"

    def __str__(self):
        return f"{self.name} up to id {self.last_id}"
