"""Credential pages: admins manage, secrets never come back in a page; host keys on the server
page, forgotten by an admin with an audit row."""

import subprocess

import pytest
from django.urls import reverse

from auditing.models import AuditLog
from inventory import ssh
from inventory.models import Credential
from tests.factories import CredentialFactory, ServerFactory

pytestmark = pytest.mark.django_db


def test_an_admin_generates_a_key_pair_and_sees_only_the_public_half(as_admin):
    response = as_admin.post(
        reverse("credential_new"), {"name": "fleet", "kind": "ssh_key", "generate_key": "on"}
    )
    credential = Credential.objects.get(name="fleet")
    assert response.status_code == 302
    page = as_admin.get(credential.get_absolute_url()).content.decode()
    assert credential.public_key in page and credential.fingerprint in page
    assert ">> ~/.ssh/authorized_keys" in page
    private = credential.secrets()["private_key"]
    assert all(line not in page for line in private.splitlines() if "-----" not in line)


def test_a_saved_password_is_never_shown_again(as_admin):
    as_admin.post(
        reverse("credential_new"),
        {"name": "sudo", "kind": "become", "become_method": "sudo", "password": "Very-secret-9"},
    )
    credential = Credential.objects.get(name="sudo")
    for url in (reverse("credential_list"), credential.get_absolute_url()):
        page = as_admin.get(url).content.decode()
        assert "Very-secret-9" not in page and "set on" in page
    audit = str(list(AuditLog.objects.values_list("details", flat=True)))
    assert "Very-secret-9" not in audit


def test_an_uploaded_bad_key_gets_a_message_and_saves_nothing(as_admin, tmp_path):
    path = tmp_path / "short"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-m", "PEM", "-f", str(path)],
        check=True,
    )
    with open(path, "rb") as upload:
        response = as_admin.post(
            reverse("credential_new"),
            {"name": "old", "kind": "ssh_key", "private_key_file": upload},
        )
    assert response.status_code == 200
    assert "at least 2048" in response.content.decode()
    assert not Credential.objects.exists()


def test_a_credential_in_use_is_not_deleted_and_the_page_says_why(as_admin):
    credential = CredentialFactory(name="sudo")
    ServerFactory(hostname="web1.test", become_credential=credential)
    response = as_admin.post(reverse("credential_delete", args=[credential.pk]), follow=True)
    assert "in use (server web1.test (become))" in response.content.decode()
    assert Credential.objects.filter(pk=credential.pk).exists()


def test_an_admin_forgets_a_host_key_with_an_audit_row(as_admin, settings):
    server = ServerFactory(ip_address="127.0.0.9", ssh_port=2222)
    key = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    other = f"[127.0.0.8]:2222 ssh-ed25519 {key}\n"
    settings.SSH_KNOWN_HOSTS.write_text(other.replace("127.0.0.8", "127.0.0.9") + other)
    page = as_admin.get(server.get_absolute_url()).content.decode()
    fingerprint = ssh.known_host_fingerprints(server)[0][1]
    assert fingerprint in page and "Forget host key" in page
    response = as_admin.post(reverse("server_forget_host_key", args=[server.pk]))
    assert response.status_code == 302
    assert settings.SSH_KNOWN_HOSTS.read_text() == other  # only its own line went
    row = AuditLog.objects.filter(resource_type="server", resource_id=str(server.pk)).last()
    assert row.details["forgotten"] == "SSH host identity"
    assert fingerprint in str(row.details)
