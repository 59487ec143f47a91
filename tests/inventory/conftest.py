import pytest

from inventory.models import Server
from tests.factories import ServerFactory


@pytest.fixture
def ssh_server(sshd, db):
    """A server row pointing at the real loopback sshd."""
    return ServerFactory(
        hostname="loopback.test",
        ip_address=sshd.host,
        ssh_port=sshd.port,
        ssh_user=sshd.user,
        ssh_key_path=sshd.key_name,
        os_type="",
        os_version="",
    )


@pytest.fixture
def local_server(db):
    return ServerFactory(
        hostname="localhost",
        ip_address="127.0.0.1",
        connection=Server.Connection.LOCAL,
        os_type="",
        os_version="",
    )
