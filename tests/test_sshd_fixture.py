"""The sshd fixture the inventory and job tests rely on really serves SSH."""

import paramiko


def test_sshd_fixture_accepts_the_test_key(sshd):
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - test-only server
    client.connect(
        sshd.host,
        port=sshd.port,
        username=sshd.user,
        key_filename=str(sshd.key_path),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
    )
    try:
        _, stdout, _ = client.exec_command("echo ok")
        assert stdout.read().strip() == b"ok"
    finally:
        client.close()
