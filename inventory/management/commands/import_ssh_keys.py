"""Move servers' key files (SSH_KEYS_DIR) into the credential store."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from auditing.context import audit_context
from inventory import crypto
from inventory.keys import resolve_key_path
from inventory.models import Credential, Server
from inventory.services import credential_save


class SystemActor:
    """The command acts as the system: admin rights, no user row."""

    pk = None
    is_admin = True
    is_super_admin = True


class Command(BaseCommand):
    help = (
        "Import the key files servers point at (ssh_key_path, in SSH_KEYS_DIR) into the "
        "encrypted credential store: one SSH key credential per file (named key:<path>), and "
        "each such server then uses it (its ssh_key_path is cleared). The files are left in "
        "place: delete them once the servers run with the stored keys. --dry-run lists only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, dry_run=False, **options):
        servers = Server.objects.filter(credential__isnull=True, connection="ssh").exclude(
            ssh_key_path=""
        )
        by_path: dict[str, list[Server]] = {}
        for server in servers:
            by_path.setdefault(server.ssh_key_path, []).append(server)
        imported = 0
        with audit_context(source="command"):
            for path, users in sorted(by_path.items()):
                names = ", ".join(s.hostname for s in users)
                if dry_run:
                    self.stdout.write(f"Would import {path} for {names}")
                    continue
                try:
                    self._import(path, users)
                except (ValidationError, OSError) as exc:
                    reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else exc
                    self.stderr.write(f"Skipped {path} ({names}): {reason}")
                    continue
                except crypto.CredentialsKeyError as exc:
                    raise CommandError(str(exc)) from exc
                imported += 1
                self.stdout.write(f"Imported {path} for {names}")
        self.stdout.write(f"Done. Imported {imported} key files into the credential store.")

    @transaction.atomic
    def _import(self, path, servers):
        text = resolve_key_path(path).read_text()
        name = f"key:{path}"[:100]
        credential = Credential.objects.filter(name=name).first()
        if credential is None:
            credential = credential_save(
                actor=SystemActor(),
                fields={"name": name, "kind": "ssh_key", "description": f"Imported from {path}"},
                secrets={"private_key": text},
            )
        for server in servers:
            server.credential = credential
            server.ssh_key_path = ""
            server.save()
