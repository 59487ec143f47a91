"""The collector against a real sshd, a closed port and a changed host key."""

import socket
import time

import pytest
from django.core.management import call_command

from inventory import metrics, ssh
from inventory.models import Server, ServerMetric
from inventory.services import server_test_connection, servers_poll
from tests.factories import ServerFactory
from tests.sshd import SshServer, free_port

pytestmark = pytest.mark.django_db


def assert_percentages(server):
    for value in (server.cpu_usage, server.memory_usage, server.disk_usage):
        assert value is not None and 0 <= value <= 100


def test_metrics_collected_over_ssh_are_stored_in_both_tables(ssh_server):
    result = metrics.collect(ssh_server)
    assert result.ok, result.error
    ssh_server.refresh_from_db()
    assert_percentages(ssh_server)
    assert ssh_server.last_monitored and ssh_server.last_error == ""
    metric = ServerMetric.objects.get(server=ssh_server)
    assert (metric.cpu, metric.memory, metric.disk) == (
        ssh_server.cpu_usage,
        ssh_server.memory_usage,
        ssh_server.disk_usage,
    )


def test_first_contact_records_the_host_key_in_openssh_format(ssh_server, sshd, settings):
    metrics.collect(ssh_server)
    line = settings.SSH_KNOWN_HOSTS.read_text().splitlines()[0]
    host, key_type, _ = line.split()
    assert host == f"[{sshd.host}]:{sshd.port}" and key_type == "ssh-ed25519"
    metrics.collect(ssh_server)  # a known key is not written twice
    assert len(settings.SSH_KNOWN_HOSTS.read_text().splitlines()) == 1


def test_local_server_is_sampled_without_ssh(local_server):
    assert metrics.collect(local_server).ok
    local_server.refresh_from_db()
    assert_percentages(local_server)


def test_closed_port_is_unreachable_within_the_timeout(db, sshd, settings):
    settings.SSH_CONNECT_TIMEOUT = 2
    server = ServerFactory(ip_address="127.0.0.1", ssh_port=free_port(), ssh_key_path=sshd.key_name)
    started = time.monotonic()
    result = metrics.collect(server)
    assert time.monotonic() - started < 2.5
    assert "unreachable" in result.error
    server.refresh_from_db()
    assert "unreachable" in server.last_error and server.last_monitored is None
    assert not ServerMetric.objects.exists()


def test_a_changed_host_key_is_refused_and_nothing_collected(ssh_server, sshd, settings, tmp_path):
    settings.SSH_KNOWN_HOSTS.write_text(
        f"[{sshd.host}]:{sshd.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIBmAKn2QKbFFLN0PkcvPyNaRw/Y7EtJ1zhjlJdvwK7Ri\n"
    )
    result = metrics.collect(ssh_server)
    assert "host key changed" in result.error
    assert not ServerMetric.objects.exists()
    ssh_server.refresh_from_db()
    assert "host key changed" in ssh_server.last_error and ssh_server.cpu_usage is None


def test_a_reinstalled_server_with_a_new_key_on_the_same_address_is_refused(db, settings, tmp_path):
    first = SshServer(root=tmp_path / "a", key_dir=settings.SSH_KEYS_DIR).start()
    try:
        server = ServerFactory(
            ip_address=first.host,
            ssh_port=first.port,
            ssh_user=first.user,
            ssh_key_path=first.key_name,
        )
        assert metrics.collect(server).ok
    finally:
        first.stop()
    second = SshServer(root=tmp_path / "b", key_dir=settings.SSH_KEYS_DIR, port=first.port).start()
    try:
        result = metrics.collect(server)
        assert "host key changed" in result.error
    finally:
        second.stop()


def test_a_missing_key_file_is_reported(ssh_server):
    Server.objects.filter(pk=ssh_server.pk).update(ssh_key_path="nope")
    ssh_server.refresh_from_db()
    assert "No key file" in metrics.collect(ssh_server).error


def test_parse_sample_rejects_garbage():
    with pytest.raises(ValueError):
        metrics.parse_sample("hello\n")


def test_test_connection_fills_empty_os_fields(ssh_server):
    ok, message = server_test_connection(server=ssh_server)
    assert ok and message.startswith("Connected: Linux")
    ssh_server.refresh_from_db()
    assert ssh_server.os_type == "Linux" and ssh_server.os_version


def test_test_connection_keeps_os_fields_a_person_set(ssh_server):
    Server.objects.filter(pk=ssh_server.pk).update(os_type="Debian", os_version="12")
    ssh_server.refresh_from_db()
    server_test_connection(server=ssh_server)
    ssh_server.refresh_from_db()
    assert (ssh_server.os_type, ssh_server.os_version) == ("Debian", "12")


def test_test_connection_to_a_closed_port_says_why(db, sshd):
    server = ServerFactory(ip_address="127.0.0.1", ssh_port=free_port(), ssh_key_path=sshd.key_name)
    ok, message = server_test_connection(server=server)
    assert not ok and "unreachable" in message


@pytest.fixture
def hung_port():
    """A loopback port that accepts TCP connections but never says a word of SSH."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_a_host_that_accepts_tcp_but_never_greets_says_so_within_the_timeout(
    db, sshd, settings, hung_port
):
    settings.SSH_CONNECT_TIMEOUT = 1
    server = ServerFactory(ip_address="127.0.0.1", ssh_port=hung_port, ssh_key_path=sshd.key_name)
    started = time.monotonic()
    result = metrics.collect(server)
    assert time.monotonic() - started < 3
    assert result.error == (
        f"unreachable: 127.0.0.1:{hung_port} accepted the connection but sent no SSH greeting "
        "within 1 s: something listens there, but it does not answer as an SSH server (a hung "
        "sshd, a firewall or another service on that port)"
    )


def test_one_dead_host_does_not_delay_the_others(ssh_server, sshd, settings, hung_port):
    settings.SSH_CONNECT_TIMEOUT = 2
    hung = ServerFactory(ip_address="127.0.0.1", ssh_port=hung_port, ssh_key_path=sshd.key_name)
    closed = ServerFactory(ip_address="127.0.0.1", ssh_port=free_port(), ssh_key_path=sshd.key_name)
    started = time.monotonic()
    results = servers_poll(servers=[hung, closed, ssh_server])
    assert time.monotonic() - started < 3.5
    assert results[ssh_server].ok
    assert not results[hung].ok and not results[closed].ok


def test_poll_servers_command_polls_active_servers_only(ssh_server, local_server, capsys):
    inactive = ServerFactory(is_active=False)
    call_command("poll_servers")
    out = capsys.readouterr().out
    assert "Polled 2 servers (0 failed)" in out
    assert ServerMetric.objects.filter(server=inactive).count() == 0
    assert ServerMetric.objects.count() == 2


def test_poll_servers_exits_non_zero_when_every_server_failed(db, sshd, capsys):
    from django.core.management import CommandError

    ServerFactory(ip_address="127.0.0.1", ssh_port=free_port(), ssh_key_path=sshd.key_name)
    with pytest.raises(CommandError, match="Every server failed"):
        call_command("poll_servers")
    assert "Polled 1 servers (1 failed)" in capsys.readouterr().out


def test_poll_servers_for_one_hostname(ssh_server, local_server, capsys):
    call_command("poll_servers", "--server", "LOOPBACK.test")
    assert "Polled 1 servers" in capsys.readouterr().out
    assert ServerMetric.objects.get().server == ssh_server


def test_poll_servers_for_one_group_with_its_nested_groups(ssh_server, local_server, capsys):
    from inventory.models import ServerGroup

    inner = ServerGroup.objects.create(name="inner")
    inner.servers.add(ssh_server)
    outer = ServerGroup.objects.create(name="outer")
    outer.children.add(inner)
    ServerGroup.objects.create(name="empty")
    call_command("poll_servers", "--group", "outer")
    assert "Polled 1 servers (0 failed)" in capsys.readouterr().out
    assert ServerMetric.objects.get().server == ssh_server
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Group empty has no active servers"):
        call_command("poll_servers", "--group", "empty")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--group", "nope"], "No group named"),
        (["--server", "nope.example"], "No server with hostname"),
        (["--workers", "0"], "between 1 and 256"),
    ],
)
def test_poll_servers_refuses_bad_arguments(db, args, message):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=message):
        call_command("poll_servers", *args)


def test_run_on_reports_a_failing_command(local_server):
    with pytest.raises(ssh.SshError, match="exited with"):
        ssh.run_on(local_server, "exit 3")


def test_no_existing_session_after_the_timeout_reads_as_no_ssh_greeting(settings):
    import paramiko

    settings.SSH_CONNECT_TIMEOUT = 2
    lost = paramiko.SSHException("No existing session")
    late = ssh._handshake_failed(("10.0.0.9", 22), lost, elapsed=2.0)
    early = ssh._handshake_failed(("10.0.0.9", 22), lost, elapsed=0.1)
    assert "sent no SSH greeting within 2 s" in late and "No existing session" not in late
    assert "closed the connection before the SSH login" in early
