"""A real `manage.py qcluster` subprocess on this process's database (the test database in
tests, the benchmark's in bench/), sharing its file directories."""

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url():
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}"
    return f"mysql://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


def worker_env(**overrides):
    """Environment for a worker process: this process's database and file directories, with
    ``overrides`` (another DATABASE_URL, a setting)."""
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "Q_WORKERS": "1",
        # A test stops its worker with SIGTERM: running jobs get 2 s, not production's 30.
        "WORKER_STOP_GRACE": "2",
        "PLAYBOOKS_DIR": str(settings.PLAYBOOKS_DIR),
        "PROJECTS_DIR": str(settings.PROJECTS_DIR),
        "SSH_KEYS_DIR": str(settings.SSH_KEYS_DIR),
        "SSH_KNOWN_HOSTS": str(settings.SSH_KNOWN_HOSTS),
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def start_qcluster(log_path, **overrides):
    """Start `manage.py worker` (a one-process cluster) sharing this process's database and
    file directories (``overrides`` as in ``worker_env``)."""
    env = worker_env(**overrides)
    log = open(log_path, "wb")  # noqa: SIM115 - closed by stop_qcluster
    process = subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log = log
    return process


def stop_qcluster(process):
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    process.log.close()


def wait_for(predicate, timeout=30, interval=0.1):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
