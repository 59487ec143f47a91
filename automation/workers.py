"""Who runs jobs: the identity of a worker process and its heartbeat.

Every django-q2 worker process registers a ``WorkerHeartbeat`` when it starts and refreshes
``last_seen`` from a daemon thread every ``WORKER_HEARTBEAT_SECONDS``, busy or idle (the thread
runs beside the job). A worker killed with SIGKILL, or whose machine died, simply stops
beating; the reaper fails its job once it has been silent for ``WORKER_LOST_SECONDS``, whatever
host or container it ran on. ``CLUSTER`` names the `manage.py worker` process a worker belongs
to (set before the cluster forks, so every worker inherits it), which is how a stopping worker
command finds its own jobs.
"""

import logging
import os
import secrets
import socket
import threading

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from automation.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# Set by `manage.py worker` in its main process before the cluster forks.
CLUSTER = ""
_identity: tuple[int, str] | None = None


def worker_name() -> str:
    """``host:pid:token`` of this process, made once per process (a fork gets a new one)."""
    global _identity
    if _identity is None or _identity[0] != os.getpid():
        _identity = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}")
    return _identity[1]


def beat(*, stopping: bool | None = None) -> None:
    """Record that this worker process is alive (creating its row the first time)."""
    name = worker_name()
    fields: dict = {"last_seen": timezone.now()}
    if stopping is not None:
        fields["stopping"] = stopping
    updated = WorkerHeartbeat.objects.filter(name=name).update(**fields)
    if not updated:
        host, pid, _ = name.split(":")
        WorkerHeartbeat.objects.create(
            name=name, hostname=host, pid=int(pid), cluster=CLUSTER, **fields
        )


def _beat_forever(stop: threading.Event) -> None:
    while not stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
        try:
            close_old_connections()
            beat()
        except DatabaseError:
            # The database is away: the next beat tries again; staying silent long enough is
            # exactly what tells the reaper this worker may be gone.
            logger.warning("Worker heartbeat failed; retrying in %s s",
                           settings.WORKER_HEARTBEAT_SECONDS, exc_info=True)
            connection.close()


_stop_beating: threading.Event | None = None


def start_heartbeat() -> None:
    """Register this process and keep its heartbeat going from a daemon thread (one per
    process)."""
    global _stop_beating
    beat(stopping=False)
    if _stop_beating is None:
        _stop_beating = threading.Event()
        threading.Thread(
            target=_beat_forever, args=(_stop_beating,), name="worker-heartbeat", daemon=True
        ).start()


def stop_heartbeat() -> None:
    """Stop this process's heartbeat thread (a process that stops being a worker)."""
    global _stop_beating
    if _stop_beating is not None:
        _stop_beating.set()
        _stop_beating = None
