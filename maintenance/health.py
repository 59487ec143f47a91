"""``/healthz``: can this installation run jobs right now?

Four checks, each within a time limit so a hung dependency answers "fail", never a hung probe:
- database: a round trip;
- broker: django-q2's ping (Redis, or the database for the ORM broker), and its queue size;
- worker: some worker process (not stopping) reported within WORKER_HEALTHY_SECONDS;
- disk: free space in DATA_DIR (playbooks, keys, job directories) at least HEALTH_MIN_FREE_MB.
The answer names no path or address: it is served without a login.
"""

import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone
from django_q.brokers import get_broker

from automation.models import WorkerHeartbeat

CHECK_SECONDS = 3.0


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _broker() -> dict[str, Any]:
    broker = get_broker()
    if not broker.ping():
        return {"ok": False, "error": "the broker did not answer"}
    return {"ok": True, "queued": broker.queue_size() or 0}


def _worker() -> dict[str, Any]:
    live = WorkerHeartbeat.objects.filter(stopping=False).aggregate(
        last=Max("last_seen"), count=Count("id")
    )
    if live["last"] is None:
        return {"ok": False, "error": "no worker has reported"}
    age = (timezone.now() - live["last"]).total_seconds()
    recent = WorkerHeartbeat.objects.filter(
        stopping=False,
        last_seen__gte=timezone.now() - timedelta(seconds=settings.WORKER_HEALTHY_SECONDS),
    ).count()
    result = {"ok": age <= settings.WORKER_HEALTHY_SECONDS, "last_seen_seconds_ago": round(age, 1),
              "workers": recent}
    if not result["ok"]:
        result["error"] = f"no worker has reported for {age:.0f} s"
    return result


def _disk() -> dict[str, Any]:
    usage = shutil.disk_usage(settings.DATA_DIR)
    free_mb = usage.free // (1024 * 1024)
    result = {"ok": free_mb >= settings.HEALTH_MIN_FREE_MB, "free_mb": free_mb,
              "free_percent": round(100 * usage.free / usage.total, 1)}
    if not result["ok"]:
        result["error"] = f"{free_mb} MB free, below {settings.HEALTH_MIN_FREE_MB} MB"
    return result


CHECKS: dict[str, Callable[[], dict[str, Any]]] = {
    "database": _database,
    "broker": _broker,
    "worker": _worker,
    "disk": _disk,
}


def _guarded(check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # a failing dependency is an answer, not an error of the probe
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        connection.close()  # each check runs in its own thread, with its own connection
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def health() -> dict[str, Any]:
    """{"status": "ok" | "fail", "checks": {name: {"ok": bool, ...}}}."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="healthz")
    futures = {name: pool.submit(_guarded, check) for name, check in CHECKS.items()}
    results: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + CHECK_SECONDS
    for name, future in futures.items():
        try:
            results[name] = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"no answer within {CHECK_SECONDS:g} s"}
    pool.shutdown(wait=False, cancel_futures=True)
    ok = all(result["ok"] for result in results.values())
    return {"status": "ok" if ok else "fail", "checks": results}
