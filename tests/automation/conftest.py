"""Fixtures for real job runs: inline tasks, servers, playbooks, and a real qcluster."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from automation import services
from inventory.models import Server
from tests.factories import ServerFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def inline_tasks(monkeypatch, django_capture_on_commit_callbacks):
    """Run django-q2 tasks in this process. Returns a context manager: work done inside it is
    treated as committed, so its on_commit enqueue (and thus the whole run) happens at exit."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def localhost(db):
    return ServerFactory(
        hostname="localhost", ip_address="127.0.0.1", connection=Server.Connection.LOCAL
    )


@pytest.fixture
def make_playbook(db):
    counter = iter(range(1000))

    def make(content, name=None):
        return services.playbook_create(
            name=name or f"Test playbook {next(counter)}",
            description="",
            content=content,
            user=None,
        )

    return make


def tasks_yaml(*tasks):
    body = "".join(f"    - {task}\n" for task in tasks)
    return f"- name: Test play\n  hosts: all\n  gather_facts: false\n  tasks:\n{body}"


@pytest.fixture
def qcluster(transactional_db, settings):
    """A real `manage.py qcluster` on the test database (file SQLite or MariaDB)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}"
        url = f"mysql://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PLAYBOOKS_DIR": str(settings.PLAYBOOKS_DIR),
        "SSH_KEYS_DIR": str(settings.SSH_KEYS_DIR),
        "SSH_KNOWN_HOSTS": str(settings.SSH_KNOWN_HOSTS),
        "Q_WORKERS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(Path(settings.PLAYBOOKS_DIR).parent / "qcluster.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    log.close()


def wait_for(predicate, timeout=30, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
