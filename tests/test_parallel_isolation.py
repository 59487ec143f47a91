"""`make test` runs under pytest-xdist: what one xdist worker starts (a `manage.py worker`, an
sshd, a redis-server) must use that worker's own test database and ports, never another's."""

import os

import pytest
from django.db import connection

from tests import sshd
from tests.worker import database_url

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


@pytest.mark.django_db
def test_a_worker_process_is_pointed_at_this_xdist_workers_test_database():
    url = database_url()
    assert url.endswith(connection.settings_dict["NAME"])
    if XDIST_WORKER:  # pytest-django suffixes each worker's test database, files included
        assert url.endswith(f"_{XDIST_WORKER}")


@pytest.mark.skipif(not XDIST_WORKER, reason="ports come from the kernel outside pytest-xdist")
def test_free_ports_come_from_this_xdist_workers_own_block():
    start = sshd.PORT_BASE + int(XDIST_WORKER.removeprefix("gw")) % 25 * sshd.PORT_BLOCK
    ports = [sshd.free_port() for _ in range(3)]
    assert len(set(ports)) == 3  # never the same port twice in a row
    assert all(start <= port < start + sshd.PORT_BLOCK < 32768 for port in ports)
