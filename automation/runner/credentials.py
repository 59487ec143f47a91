"""Stored credentials at run time: written into the job's directory as files only the run can
read (0600), never into extra vars, the command line or an environment variable; every value
remembered so console lines can mask it.

- SSH key: decrypted (and, when it has a passphrase, opened with it) into an unencrypted
  0600 key file in the job's ``ssh/`` directory: ssh needs no passphrase and no agent, and
  the file goes away with the job directory.
- SSH password, become method/user/password: host variables in a 0600 file
  ``inventory/host_vars/<host>.yml`` beside the inventory (Ansible loads it for that host),
  each string tagged ``!unsafe`` so a password with ``{{`` is never templated. Per host: a run
  over many servers gives each its own.
- Vault password: a 0600 file passed as ``--vault-id <id>@<file>``.

Which credentials a run used is recorded (one USE audit row each, naming the job).
"""

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.core.exceptions import ValidationError

from inventory import crypto
from inventory.models import Credential

MASK = "********"
# Shorter values are not masked: "ok" or "22" would blank out half the console. The form
# asks for longer passwords; docs/audit-and-security.md says so.
MIN_MASKED_LENGTH = 4


@dataclass
class RunCredentials:
    """What a run's credentials left behind: the values to mask and the credentials used."""

    secrets: set[str] = field(default_factory=set)
    used: dict[int, Credential] = field(default_factory=dict)

    def remember(self, credential: Credential, *values: str) -> None:
        self.used[credential.pk] = credential
        for value in values:
            if not value:
                continue
            self.secrets.add(value)
            # Each line of a multi-line secret (a private key printed line by line) and the
            # forms a task may print it in: base64, JSON-escaped.
            self.secrets.update(line.strip() for line in value.splitlines())
            self.secrets.add(base64.b64encode(value.encode()).decode())
            self.secrets.add(json.dumps(value)[1:-1])

    def masker(self):
        """A function masking every remembered value in a text (longest first)."""
        values = sorted(
            (v for v in self.secrets if len(v) >= MIN_MASKED_LENGTH and "-----" not in v),
            key=len,
            reverse=True,
        )

        def mask(text: str) -> str:
            for value in values:
                if value in text:
                    text = text.replace(value, MASK)
            return text

        return mask


# One per job directory while it is being prepared and run (prepare.py fills it through
# host_connection_vars, which is called per server and does not know the job).
_RUNS: dict[str, RunCredentials] = {}


def for_run(root: Path) -> RunCredentials:
    return _RUNS.setdefault(str(root), RunCredentials())


def forget(root: Path) -> RunCredentials:
    return _RUNS.pop(str(root), RunCredentials())


def _secrets(credential: Credential) -> dict[str, str]:
    try:
        return credential.secrets()
    except crypto.CredentialsKeyError as exc:
        raise ValidationError(f"credential {credential.name}: {exc}") from exc


def write_ssh_key(credential: Credential, path: Path, run: RunCredentials) -> None:
    """The credential's private key, without passphrase, as a 0600 file at ``path``."""
    values = _secrets(credential)
    try:
        key = crypto.load_private_key(values.get("private_key", ""), values.get("passphrase", ""))
    except ValidationError as exc:
        raise ValidationError(f"credential {credential.name}: {' '.join(exc.messages)}") from exc
    text = crypto.unencrypted_openssh(key)
    run.remember(credential, values.get("private_key", ""), values.get("passphrase", ""), text)
    path.touch(mode=0o600)
    path.write_text(text)


def secret_host_vars(server, root: Path, run: RunCredentials) -> dict[str, str]:
    """Write the server's password host variables (SSH password, become) into a 0600 file
    beside the inventory; returns the non-secret ones for the inventory itself."""
    secret: dict[str, str] = {}
    plain: dict[str, str] = {}
    credential = server.credential
    if credential is not None and credential.kind == Credential.Kind.SSH_PASSWORD:
        password = _secrets(credential).get("password", "")
        run.remember(credential, password)
        secret["ansible_password"] = password
        if credential.username:
            plain["ansible_user"] = credential.username
    become = server.become_credential
    if become is not None:
        password = _secrets(become).get("password", "")
        run.remember(become, password)
        secret["ansible_become_password"] = password
        if become.become_method:
            plain["ansible_become_method"] = become.become_method
        if become.become_user:
            plain["ansible_become_user"] = become.become_user
    if secret:
        host_vars = root / "inventory" / "host_vars"
        host_vars.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = host_vars / f"{server.hostname}.yml"
        path.touch(mode=0o600)
        path.write_text(_unsafe_yaml(secret))
    return plain


def _unsafe_yaml(values: dict[str, str]) -> str:
    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, lambda d, v: d.represent_scalar("!unsafe", v, style='"'))
    return yaml.dump(values, Dumper=Dumper, allow_unicode=True)


def vault_args(job, root: Path, run: RunCredentials) -> str:
    """``--vault-id <id>@<0600 file>`` for the job's vault credential, or ""."""
    credential = job.vault_credential
    if credential is None:
        return ""
    password = _secrets(credential).get("password", "")
    run.remember(credential, password)
    path = root / "env" / "vault_password"
    path.touch(mode=0o600)
    path.write_text(password)
    label = credential.vault_id or "default"
    return f"--vault-id {label}@{path}"
