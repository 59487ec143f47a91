"""Jobs over SSH against the real test sshd: each job opens its own connections, and the
failures a person meets (a rejected key, a changed host key, a host that never greets) read
as what happened."""

import shutil

import pytest

from automation.models import Job, JobLog
from tests.automation.conftest import tasks_yaml
from tests.factories import ServerFactory
from tests.sshd import keygen

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(sshd, settings, tmp_path):
    """A key directory holding the key the sshd accepts and one it has never seen."""
    settings.SSH_KEYS_DIR = tmp_path / "keys"
    settings.SSH_KEYS_DIR.mkdir()
    shutil.copy(sshd.key_path, settings.SSH_KEYS_DIR / "accepted")
    keygen(settings.SSH_KEYS_DIR / "rejected")
    return settings.SSH_KEYS_DIR


def ssh_server(sshd, hostname, key):
    return ServerFactory(
        hostname=hostname,
        ip_address=sshd.host,
        ssh_port=sshd.port,
        ssh_user=sshd.user,
        ssh_key_path=key,
    )


def console_text(job):
    return "\n".join(JobLog.objects.filter(job=job).values_list("content", flat=True))


def test_a_job_never_reuses_another_jobs_ssh_connection(launch, sshd, keys, make_playbook, admin):
    playbook = make_playbook(tasks_yaml("ansible.builtin.command: echo hello"))
    good = launch(playbook=playbook, server=ssh_server(sshd, "good.test", "accepted"), user=admin)
    assert good.status == Job.Status.SUCCESS, good.error_message
    # Same address, port and user, within ControlPersist's minute: only the key differs.
    bad = launch(playbook=playbook, server=ssh_server(sshd, "bad.test", "rejected"), user=admin)
    assert bad.status == Job.Status.FAILED
    assert bad.error_message.startswith("Host bad.test refused the SSH key"), bad.error_message
    assert "Permission denied (publickey" in console_text(bad)  # the raw line stays


def test_everything_ansible_keeps_between_tasks_lives_in_the_jobs_directory(tmp_path):
    from automation.runner.prepare import environment

    env = environment(tmp_path)
    for name in (
        "ANSIBLE_HOME",
        "ANSIBLE_SSH_CONTROL_PATH_DIR",
        "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR",
        "ANSIBLE_LOCAL_TEMP",
    ):
        assert env[name].startswith(f"{tmp_path}/"), name
    # Ansible's own socket name in that directory, whatever the worker's environment says.
    assert env["ANSIBLE_SSH_CONTROL_PATH"] == ""


def test_a_changed_host_key_fails_the_job_with_what_to_do(
    launch, sshd, keys, make_playbook, admin, settings, tmp_path
):
    impostor = keygen(tmp_path / "impostor_host_key")
    recorded = impostor.with_suffix(".pub").read_text().split()[:2]
    settings.SSH_KNOWN_HOSTS.write_text(f"[{sshd.host}]:{sshd.port} {' '.join(recorded)}\n")
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        server=ssh_server(sshd, "moved.test", "accepted"),
        user=admin,
    )
    assert job.status == Job.Status.FAILED
    assert job.error_message.startswith(
        "Host moved.test presented a different SSH host key than the one recorded for it"
    ), job.error_message
    assert str(settings.SSH_KNOWN_HOSTS) in job.error_message
    assert "@" * 10 not in job.error_message
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in console_text(job)
    # The recorded key is never replaced by the one the run met.
    assert settings.SSH_KNOWN_HOSTS.read_text().split()[1:3] == recorded
