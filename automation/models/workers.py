"""Workers: one row per worker process that runs jobs, refreshed while it lives."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """A worker process announcing itself. ``name`` (``host:pid:token``) is what a job it runs
    records in ``jobs.worker``; the random token tells apart two processes that got the same
    pid, on one host or in two containers that share a hostname. A job whose worker has not
    been seen for ``WORKER_LOST_SECONDS`` is failed by the reaper, wherever the worker ran."""

    name = models.CharField(max_length=255, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    # The `manage.py worker` process this one belongs to: it stops its own jobs on shutdown.
    cluster = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField()
    # Set when its cluster is shutting down: it takes no new job.
    stopping = models.BooleanField(default=False)

    class Meta:
        db_table = "worker_heartbeats"
        indexes = [
            # "Is any worker alive?" (health) and "which workers are stale?" (reaper).
            models.Index(fields=["last_seen"], name="idx_worker_heartbeats_seen"),
            models.Index(fields=["cluster"], name="idx_worker_heartbeats_cluster"),
        ]

    def __str__(self):
        return self.name
