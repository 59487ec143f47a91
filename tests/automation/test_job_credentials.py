"""Stored credentials at run time, against the real sshd that logs in as infra-target: a key
from the store (with a passphrase too), a become password, a vault password; every value
masked in the console, the error message, the download and the database, and no secret in
clear anywhere the app keeps data."""

import fcntl
import secrets
import subprocess
import textwrap
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from automation.models import Job, JobLog
from automation.services.jobs import job_relaunch
from inventory.models import Credential
from inventory.services import credential_save
from tests.conftest import TARGET_USER
from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store_key(admin, target_sshd, tmp_path):
    """Store the key the target sshd accepts, optionally re-encrypted with a passphrase."""

    def store(name, passphrase=""):
        copy = tmp_path / f"key-{name}"
        copy.write_text(target_sshd.key_path.read_text())
        copy.chmod(0o600)
        if passphrase:
            subprocess.run(
                ["ssh-keygen", "-q", "-p", "-P", "", "-N", passphrase, "-f", str(copy)], check=True
            )
        return credential_save(
            actor=admin,
            fields={"name": name, "kind": "ssh_key"},
            secrets={"private_key": copy.read_text(), "passphrase": passphrase},
        )

    return store


def target_server(target_sshd, credential, **fields):
    return ServerFactory(
        hostname=fields.pop("hostname", "target.test"),
        ip_address=target_sshd.host,
        ssh_port=target_sshd.port,
        ssh_user=target_sshd.user,
        ssh_key_path="",
        credential=credential,
        **fields,
    )


def console(job):
    return "\n".join(JobLog.objects.filter(job=job).values_list("content", flat=True))


WHOAMI = (
    "- hosts: all\n  gather_facts: false\n  tasks:\n"
    "    - ansible.builtin.command: id -un\n      register: who\n"
    "    - ansible.builtin.debug:\n        msg: 'remote user is {{ who.stdout }}'\n"
)


@pytest.mark.parametrize("passphrase", ["", "a-Key-Passphrase-42"])
def test_a_job_logs_in_with_a_key_from_the_store(
    launch, store_key, target_sshd, make_playbook, admin, passphrase
):
    credential = store_key("target", passphrase)
    job = launch(
        playbook=make_playbook(WHOAMI),
        server=target_server(target_sshd, credential),
        user=admin,
    )
    assert job.status == Job.Status.SUCCESS, job.error_message + console(job)
    assert f"remote user is {TARGET_USER}" in console(job)
    from auditing.models import AuditLog

    use = AuditLog.objects.get(action=AuditLog.Action.USE, resource_id=str(credential.pk))
    assert use.details["job"] == str(job.job_id)


@pytest.fixture
def target_password():
    """A password for infra-target for the length of one test (su checks it through PAM), under
    a lock shared by parallel test processes; the account's old password entry is restored."""
    with open("/tmp/infra-target-password.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        old = subprocess.run(
            ["getent", "shadow", TARGET_USER], capture_output=True, text=True, check=True
        ).stdout.split(":")[1]
        password = "Become-" + secrets.token_urlsafe(12)
        subprocess.run(["chpasswd"], input=f"{TARGET_USER}:{password}", text=True, check=True)
        try:
            yield password
        finally:
            subprocess.run(["usermod", "-p", old, TARGET_USER], check=True)
            fcntl.flock(lock, fcntl.LOCK_UN)


def vault_string(password, value, tmp_path):
    secret_file = tmp_path / "vault-pass"
    secret_file.write_text(password)
    done = subprocess.run(
        [
            str(Path(subprocess.sys.executable).parent / "ansible-vault"),
            "encrypt_string",
            "--vault-password-file",
            str(secret_file),
            value,
            "--name",
            "vaulted",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    secret_file.unlink()
    return done.stdout


def indent(text):
    return textwrap.indent(text.rstrip("\n"), "    ")


def secrets_playbook(vaulted):
    return (
        f"- hosts: all\n  gather_facts: false\n  vars:\n{indent(vaulted)}\n  tasks:\n"
        "    - ansible.builtin.command: id -un\n      become: true\n      register: who\n"
        "    - ansible.builtin.debug:\n        msg: 'became {{ who.stdout }}'\n"
        "    - ansible.builtin.debug:\n        msg: 'vault opened: {{ vaulted }}'\n"
        "    - ansible.builtin.debug:\n"
        "        msg: 'become password {{ ansible_become_password }}'\n"
        "    - ansible.builtin.debug:\n"
        "        msg: \"vault password {{ lookup('file', playbook_dir"
        " + '/../env/vault_password') }}\"\n"
        "    - ansible.builtin.debug:\n"
        '        msg: "base64 {{ ansible_become_password | b64encode }}"\n'
        "    - ansible.builtin.fail:\n        msg: 'stop: {{ ansible_become_password }}'\n"
    )


def test_become_and_vault_passwords_are_used_and_never_stored_in_clear(
    launch,
    store_key,
    target_sshd,
    target_password,
    make_playbook,
    admin,
    tmp_path,
    settings,
    as_admin,
):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    vault_password = "Vault-" + secrets.token_urlsafe(12)
    key_passphrase = "Key-" + secrets.token_urlsafe(12)
    key = store_key("target", key_passphrase)
    become = credential_save(
        actor=admin,
        fields={"name": "su", "kind": "become", "become_method": "su", "become_user": TARGET_USER},
        secrets={"password": target_password},
    )
    vault = credential_save(
        actor=admin, fields={"name": "vault", "kind": "vault"}, secrets={"password": vault_password}
    )
    playbook = make_playbook(secrets_playbook(vault_string(vault_password, "opened-42", tmp_path)))
    server = target_server(target_sshd, key, become_credential=become)
    job = launch(playbook=playbook, server=server, user=admin, vault_credential=vault)

    text = console(job)
    assert job.status == Job.Status.FAILED, text  # the last task fails on purpose
    assert f"became {TARGET_USER}" in text, text
    assert "vault opened: opened-42" in text
    assert "become password ********" in text
    assert "vault password ********" in text
    assert "base64 ********" in text
    assert job.error_message == "stop: ********" or "stop: ********" in job.error_message
    download = as_admin.get(reverse("job_download", args=[job.job_id]))
    assert download.status_code == 200
    body = b"".join(download.streaming_content) if download.streaming else download.content
    assert target_password.encode() not in body and vault_password.encode() not in body
    assert b"become password ********" in body

    # Relaunch reuses the vault credential itself.
    assert job_relaunch(job=job, user=admin).vault_credential_id == vault.pk

    values = [target_password, vault_password, key_passphrase]
    values += [
        line for line in target_sshd.key_path.read_text().splitlines() if "-----" not in line
    ]
    assert_nowhere_in_clear(values, settings)


def assert_nowhere_in_clear(values, settings):
    """No value in any text column of the tables that could hold one, nor in the app's files."""
    tables = ("credentials", "jobs", "job_logs", "audit_logs", "servers")
    with connection.cursor() as cursor:
        for table in tables:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
                if c.type_code in _text_types()
            ]
            assert columns, table
            # Names from the schema itself, never from input.
            quoted = ", ".join(map(connection.ops.quote_name, columns))  # `limit` is a keyword
            cursor.execute(f"SELECT {quoted} FROM {table}")  # noqa: S608
            dump = "\n".join(str(v) for row in cursor.fetchall() for v in row)
            for value in values:
                assert value not in dump, f"a secret in clear in {table}"
    for directory in (settings.DATA_DIR, settings.PLAYBOOKS_DIR, settings.PROJECTS_DIR):
        for path in Path(directory).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for value in values:
                    assert value.encode() not in data, f"a secret in clear in {path}"


def _text_types():
    if connection.vendor == "mysql":
        from MySQLdb.constants import FIELD_TYPE

        return {
            FIELD_TYPE.VAR_STRING, FIELD_TYPE.STRING, FIELD_TYPE.VARCHAR, FIELD_TYPE.BLOB,
            FIELD_TYPE.LONG_BLOB, FIELD_TYPE.MEDIUM_BLOB, FIELD_TYPE.JSON,
        }  # fmt: skip
    return {"text", "varchar", "TEXT", "VARCHAR", "varchar(255)"}


def test_a_wrong_vault_password_fails_the_job_with_a_clear_message(
    launch, store_key, target_sshd, make_playbook, admin, tmp_path
):
    vault = credential_save(
        actor=admin, fields={"name": "vault", "kind": "vault"}, secrets={"password": "Wrong-pass-1"}
    )
    playbook = make_playbook(
        "- hosts: all\n  gather_facts: false\n  vars:\n"
        + indent(vault_string("Right-pass-1", "x", tmp_path))
        + "\n  tasks:\n    - ansible.builtin.debug:\n        msg: '{{ vaulted }}'\n"
    )
    job = launch(
        playbook=playbook,
        server=target_server(target_sshd, store_key("target")),
        user=admin,
        vault_credential=vault,
    )
    assert job.status == Job.Status.FAILED
    assert "vault" in job.error_message.lower(), job.error_message
    assert "Traceback" not in job.error_message
    assert "Decryption failed" in job.error_message or "vault password" in job.error_message


def test_rotation_keeps_jobs_running(
    launch, store_key, target_sshd, make_playbook, admin, settings
):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    settings.CREDENTIALS_KEY = [Fernet.generate_key().decode()]
    credential = store_key("target")
    settings.CREDENTIALS_KEY = [Fernet.generate_key().decode(), *settings.CREDENTIALS_KEY]
    call_command("rotate_credentials")
    settings.CREDENTIALS_KEY = settings.CREDENTIALS_KEY[:1]
    job = launch(
        playbook=make_playbook(WHOAMI),
        server=target_server(target_sshd, Credential.objects.get(pk=credential.pk)),
        user=admin,
    )
    assert job.status == Job.Status.SUCCESS, job.error_message


def test_a_missing_credentials_key_fails_the_job_with_a_clear_message(
    launch, store_key, target_sshd, make_playbook, admin, settings
):
    server = target_server(target_sshd, store_key("target"))
    settings.CREDENTIALS_KEY, settings.CREDENTIALS_KEY_IS_DEV_DEFAULT = [], False
    job = launch(playbook=make_playbook(WHOAMI), server=server, user=admin)
    assert job.status == Job.Status.FAILED
    assert job.error_message.startswith("Cannot run: credential target: CREDENTIALS_KEY is not set")


def test_the_connection_test_and_collector_log_in_with_a_stored_key(store_key, target_sshd):
    from inventory.services import server_test_connection

    server = target_server(target_sshd, store_key("target", "Collector-phrase-1"))
    ok, message = server_test_connection(server=server)
    assert ok, message
