"""Fixtures for real job runs: inline tasks, servers, playbooks, and a real qcluster."""

import socket
import threading

import pytest

from automation.services import playbooks as services
from automation.services.jobs import job_launch
from inventory.models import Server
from tests.factories import ServerFactory
from tests.worker import wait_for  # noqa: F401 - the job tests import it from here


@pytest.fixture
def inline_tasks(monkeypatch, django_capture_on_commit_callbacks):
    """Run django-q2 tasks in this process. Returns a context manager: work done inside it is
    treated as committed, so its on_commit enqueue (and thus the whole run) happens at exit."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def launch(inline_tasks):
    """Launch a job and run it inline, as a worker would after the commit."""

    def run(**kwargs):
        with inline_tasks():
            job = job_launch(**kwargs)
        job.refresh_from_db()
        return job

    return run


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
def silent_server():
    """A loopback TCP port that accepts connections and never says a word: a fetch from it
    hangs (for cancel and timeout tests)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()
