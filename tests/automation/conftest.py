"""Fixtures for real job runs: inline tasks, servers, playbooks, and a real qcluster."""

import pytest

from automation.services import playbooks as services
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
