"""Benchmark: the production server against the development server, and one worker against two.

1. Web: gunicorn (deploy/gunicorn.conf.py, WEB_WORKERS=4, DEBUG=False, WhiteNoise) and
   Django's runserver (DEBUG=True, as `make run`) on the same database, driven in interleaved
   rounds by CLIENTS concurrent clients for SECONDS each: the jobs list (`/jobs/`) and a live
   console poll (`/jobs/<uuid>/log/?after=<n>`). Requests per second and p95 per page.
2. Workers: a batch of JOBS one-second jobs through a private Redis broker with one worker cluster,
   then with two, interleaved; wall time from the first launch to the last success.

Run: .venv/bin/python bench/production.py [--rounds N]  (DATABASE_URL optional: scratch SQLite)
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, django_setup  # noqa: E402

scratch = django_setup("production")
from _jobs import demo_objects  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django_q.conf import Conf  # noqa: E402

from automation.models import Job, JobLog  # noqa: E402
from automation.services.jobs import job_launch  # noqa: E402
from automation.services.playbooks import playbook_create  # noqa: E402
from tests.sshd import free_port  # noqa: E402
from tests.worker import stop_qcluster, worker_env  # noqa: E402

CLIENTS = 8
SECONDS = 4
JOBS = 8


def seed(user, server):
    playbook = playbook_create(
        name=f"bench-{time.time()}",
        description="",
        content="- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
        user=None,
    )
    Job.objects.bulk_create(
        Job(playbook=playbook, server=server, user=user, status=Job.Status.SUCCESS)
        for _ in range(2000)
    )
    live = Job.objects.create(
        playbook=playbook, server=server, user=user, status=Job.Status.RUNNING
    )
    JobLog.objects.bulk_create(
        JobLog(job=live, line_number=n, content=f"\x1b[0;32mok: [host] => step {n}\x1b[0m")
        for n in range(1, 1001)
    )
    return playbook, live


def session_cookie(user):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return f"sessionid={store.session_key}"


def start_web(kind, port):
    env = {**worker_env(), "SECRET_KEY": "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz-ABC"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if kind == "gunicorn":
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=ROOT, env={**env, "DEBUG": "False"}, check=True,
        )
        env.update(DEBUG="False", SECURE_SSL_REDIRECT="False", SESSION_COOKIE_SECURE="False",
                   WEB_WORKERS="4", WEB_BIND=f"127.0.0.1:{port}", WEB_ACCESS_LOG="/dev/null")
        command = [str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py",
                   "infra_automation.wsgi"]
    else:
        env["DEBUG"] = "True"
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=1)  # noqa: S310
            return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{kind} did not start")


def load(url, cookie):
    """CLIENTS threads requesting ``url`` for SECONDS: (requests per second, p95 seconds)."""
    latencies, stop = [], time.monotonic() + SECONDS

    def client():
        while time.monotonic() < stop:
            headers = {"Cookie": cookie, "HX-Request": "true"}
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http only
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                response.read()
                assert response.status in (200, 286), response.status
            latencies.append(time.monotonic() - started)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return len(latencies) / SECONDS, latencies[int(len(latencies) * 0.95) - 1]


def web(user, live, rounds):
    cookie = session_cookie(user)
    ports = {"gunicorn": free_port(), "runserver": free_port()}
    servers = {kind: start_web(kind, port) for kind, port in ports.items()}
    pages = {"jobs list": "/jobs/", "console poll": f"/jobs/{live.job_id}/log/?after=990"}
    results = {(kind, page): [] for kind in servers for page in pages}
    try:
        for _ in range(rounds):
            for page, path in pages.items():
                for kind, port in ports.items():
                    results[kind, page].append(load(f"http://127.0.0.1:{port}{path}", cookie))
    finally:
        for process in servers.values():
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    print(f"web: {CLIENTS} concurrent clients, {SECONDS} s a measure, {rounds} rounds interleaved")
    for page in pages:
        for kind in servers:
            rps = [r for r, _ in results[kind, page]]
            p95 = [p for _, p in results[kind, page]]
            print(
                f"  {page:13} {kind:9}: {statistics.median(rps):7.1f} req/s "
                f"({min(rps):.1f}-{max(rps):.1f}), p95 {statistics.median(p95) * 1000:6.1f} ms "
                f"({min(p95) * 1000:.1f}-{max(p95) * 1000:.1f})"
            )


def workers(user, server, rounds):
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(scratch)], stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    Conf.ORM, Conf.REDIS = None, url
    playbook = playbook_create(
        name=f"bench-slow-{time.time()}",
        description="",
        content="- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.pause: {seconds: 1}\n",
        user=None,
    )
    times = {1: [], 2: []}
    try:
        for _ in range(rounds):
            for count in (1, 2):
                clusters = [
                    subprocess.Popen(
                        [sys.executable, "manage.py", "worker"], cwd=ROOT,
                        env={**worker_env(), "REDIS_URL": url}, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, start_new_session=True,
                    )
                    for _ in range(count)
                ]
                for cluster in clusters:
                    cluster.log = open(os.devnull, "wb")  # noqa: SIM115 - closed by stop_qcluster
                time.sleep(3)  # clusters up before the clock starts
                started = time.monotonic()
                batch = [job_launch(playbook=playbook, server=server, user=user)
                         for _ in range(JOBS)]
                while Job.objects.filter(pk__in=[j.pk for j in batch], completed_at=None).exists():
                    time.sleep(0.05)
                times[count].append(time.monotonic() - started)
                assert not Job.objects.filter(
                    pk__in=[j.pk for j in batch]
                ).exclude(status=Job.Status.SUCCESS).exists()
                for cluster in clusters:
                    stop_qcluster(cluster)
    finally:
        redis.terminate()
    print(f"workers: {JOBS} one-second jobs on Redis, {rounds} rounds interleaved")
    for count, values in times.items():
        print(
            f"  {count} worker{'s' if count > 1 else ' '}: {statistics.median(values):.2f} s "
            f"({min(values):.2f}-{max(values):.2f}), {JOBS / statistics.median(values):.2f} jobs/s"
        )
    print(f"  speed-up: {statistics.median(times[1]) / statistics.median(times[2]):.2f}x")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    user, server = demo_objects()
    _, live = seed(user, server)
    web(user, live, args.rounds)
    workers(user, server, args.rounds)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
