"""/healthz answers 200 only when the database, the broker, a worker and the disk are fine,
and names what is wrong otherwise (the checks run in threads: committed data only)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_q.conf import Conf

from automation.models import WorkerHeartbeat
from tests.sshd import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def get():
    response = Client().get("/healthz")
    return response.status_code, response.json()


def heartbeat(seconds_ago=0, **fields):
    return WorkerHeartbeat.objects.create(
        name=f"host:1:{seconds_ago:012d}",
        hostname="host",
        pid=1,
        last_seen=timezone.now() - timedelta(seconds=seconds_ago),
        **fields,
    )


def test_healthy_with_a_worker_that_reported():
    heartbeat(seconds_ago=5)
    status, body = get()
    assert status == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "worker", "disk"}
    assert body["checks"]["worker"]["workers"] == 1
    assert body["checks"]["disk"]["free_mb"] > 0


def test_no_worker_is_a_failure_named_in_the_answer():
    status, body = get()
    assert status == 503 and body["status"] == "fail"
    assert body["checks"]["worker"] == {
        "ok": False, "error": "no worker has reported", "ms": body["checks"]["worker"]["ms"]
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_a_silent_or_stopping_worker_is_a_failure():
    heartbeat(seconds_ago=120)
    heartbeat(seconds_ago=1, stopping=True)
    status, body = get()
    assert status == 503 and "no worker has reported for 12" in body["checks"]["worker"]["error"]


def test_too_little_disk_is_a_failure(settings):
    heartbeat()
    settings.HEALTH_MIN_FREE_MB = 10**12
    status, body = get()
    assert status == 503 and not body["checks"]["disk"]["ok"]
    assert "below" in body["checks"]["disk"]["error"]


def test_a_broker_that_does_not_answer_is_a_failure(monkeypatch):
    heartbeat()
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    status, body = get()
    assert status == 503 and not body["checks"]["broker"]["ok"]
    assert body["checks"]["database"]["ok"]


def test_healthz_needs_no_login_is_never_cached_and_only_get():
    heartbeat()
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert Client().post("/healthz").status_code == 405
