"""The credential store: secrets encrypted at rest with CREDENTIALS_KEY, checked when saved,
write-only in the audit trail, rotated by a command, and kept while something uses them."""

import subprocess
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from django.core.management import call_command

from auditing.models import AuditLog
from inventory import crypto
from inventory.models import Credential
from inventory.services import credential_delete, credential_save
from tests.factories import ServerFactory

pytestmark = pytest.mark.django_db


def ssh_keygen(path, *args):
    subprocess.run(["ssh-keygen", "-q", "-f", str(path), *args], check=True)
    return path.read_text()


@pytest.fixture
def key_text(tmp_path):
    return ssh_keygen(tmp_path / "plain", "-t", "ed25519", "-N", "")


def make_key(admin, name="deploy", **secrets):
    return credential_save(actor=admin, fields={"name": name, "kind": "ssh_key"}, secrets=secrets)


def test_a_stored_key_is_encrypted_and_only_its_fingerprint_is_readable(admin, key_text):
    credential = make_key(admin, private_key=key_text)
    row = Credential.objects.values().get(pk=credential.pk)
    assert key_text.split("\n")[1] not in str(row)
    assert credential.fingerprint.startswith("SHA256:")
    assert credential.public_key.startswith("ssh-ed25519 ")
    assert Credential.objects.get(pk=credential.pk).secrets()["private_key"] == key_text


def test_a_generated_key_pair_needs_no_file(admin):
    credential = credential_save(
        actor=admin, fields={"name": "gen", "kind": "ssh_key"}, secrets={}, generate_key=True
    )
    assert credential.public_key.startswith("ssh-ed25519 ")
    assert "OPENSSH PRIVATE KEY" in credential.secrets()["private_key"]


def test_a_passphrase_protected_key_needs_its_passphrase(admin, tmp_path):
    text = ssh_keygen(tmp_path / "enc", "-t", "ed25519", "-N", "s3cret-phrase")
    with pytest.raises(ValidationError, match="encrypted: enter its passphrase"):
        make_key(admin, private_key=text)
    with pytest.raises(ValidationError, match="Wrong passphrase"):
        make_key(admin, private_key=text, passphrase="nope")
    assert make_key(admin, private_key=text, passphrase="s3cret-phrase").fingerprint
    assert not Credential.objects.exclude(name="deploy").exists()  # nothing half-written


@pytest.mark.parametrize(
    "text, message",
    [
        ("hello", "not a private key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAnope\n-----END OPENSSH PRIVATE KEY-----",
            "cannot be read",
        ),
    ],
)
def test_a_malformed_key_is_refused_with_a_message(admin, text, message):
    with pytest.raises(ValidationError, match=message):
        make_key(admin, private_key=text)
    assert not Credential.objects.exists()


def test_a_short_rsa_key_is_refused(admin, tmp_path):
    text = ssh_keygen(tmp_path / "rsa", "-t", "rsa", "-b", "1024", "-N", "", "-m", "PEM")
    with pytest.raises(ValidationError, match="1024 bits: at least 2048"):
        make_key(admin, private_key=text)


def test_an_edit_that_leaves_secrets_blank_keeps_them(admin, key_text):
    credential = make_key(admin, private_key=key_text)
    credential_save(
        actor=admin, credential=credential, fields={"description": "web fleet"}, secrets={}
    )
    assert Credential.objects.get(pk=credential.pk).secrets()["private_key"] == key_text


def test_audit_rows_name_changed_fields_never_values(admin, key_text):
    password = "become-Pa55-word"
    credential = credential_save(
        actor=admin, fields={"name": "sudo", "kind": "become"}, secrets={"password": password}
    )
    credential_save(
        actor=admin,
        credential=credential,
        fields={"become_user": "root"},
        secrets={"password": password + "2"},
    )
    rows = AuditLog.objects.filter(resource_type="credential")
    text = str(list(rows.values("details")))
    assert password not in text and credential.secret not in text
    assert "secret value" in text and "become_user" in text


def test_a_user_cannot_manage_credentials(user):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        credential_save(
            actor=user, fields={"name": "x", "kind": "vault"}, secrets={"password": "p"}
        )


def test_a_credential_in_use_cannot_be_deleted(admin, key_text):
    credential = make_key(admin, private_key=key_text)
    ServerFactory(hostname="web1.test", credential=credential)
    with pytest.raises(ValidationError, match="in use \\(server web1.test\\)"):
        credential_delete(actor=admin, credential=credential)
    assert Credential.objects.filter(pk=credential.pk).exists()


def test_rotation_re_encrypts_every_row_with_the_newest_key(admin, key_text, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIALS_KEY = [old]
    make_key(admin, private_key=key_text)
    credential_save(actor=admin, fields={"name": "v", "kind": "vault"}, secrets={"password": "vp"})
    settings.CREDENTIALS_KEY = [new, old]
    out = StringIO()
    call_command("rotate_credentials", stdout=out)
    assert "Re-encrypted 2 credentials" in out.getvalue()
    settings.CREDENTIALS_KEY = [new]  # the old key is gone: every row still opens
    assert [c.secrets() for c in Credential.objects.order_by("name")] == [
        {"private_key": key_text},
        {"password": "vp"},
    ]


def test_a_missing_credentials_key_is_a_clear_error(admin, settings):
    settings.CREDENTIALS_KEY = []
    settings.CREDENTIALS_KEY_IS_DEV_DEFAULT = False
    with pytest.raises(crypto.CredentialsKeyError, match="CREDENTIALS_KEY is not set"):
        credential_save(
            actor=admin, fields={"name": "v", "kind": "vault"}, secrets={"password": "p"}
        )
    assert not Credential.objects.exists()


def test_import_ssh_keys_moves_key_files_into_the_store(settings, key_text):
    (settings.SSH_KEYS_DIR / "deploy").write_text(key_text)
    (settings.SSH_KEYS_DIR / "broken").write_text("not a key")
    web = ServerFactory(hostname="web.test", ssh_key_path="deploy")
    db = ServerFactory(hostname="db.test", ssh_key_path="deploy")
    bad = ServerFactory(hostname="bad.test", ssh_key_path="broken")
    out, err = StringIO(), StringIO()
    call_command("import_ssh_keys", stdout=out, stderr=err)
    credential = Credential.objects.get(name="key:deploy")
    assert credential.secrets()["private_key"] == key_text
    for server in (web, db):
        server.refresh_from_db()
        assert server.credential == credential and server.ssh_key_path == ""
    bad.refresh_from_db()
    assert bad.credential is None and bad.ssh_key_path == "broken"
    assert "Skipped broken (bad.test): This is not a private key" in err.getvalue()
    assert "Done. Imported 1 key files" in out.getvalue()
