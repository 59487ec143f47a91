"""Re-encrypt every stored credential with the newest CREDENTIALS_KEY."""

from django.core.management.base import BaseCommand, CommandError

from auditing.context import audit_context
from auditing.models import AuditLog
from auditing.services import audit_record
from inventory import crypto, services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored credential with the first (newest) key of CREDENTIALS_KEY. "
        "Rotation: put a new key first in CREDENTIALS_KEY (keep the old ones after it), run "
        "this, then remove the old keys. All rows or none: a failure changes nothing."
    )

    def handle(self, *args, **options):
        with audit_context(source="command"):
            try:
                count = services.credentials_rotate()
            except crypto.CredentialsKeyError as exc:
                raise CommandError(str(exc)) from exc
            audit_record(
                AuditLog.Action.UPDATE,
                resource_type="credential",
                details={"rotated": count, "what": "re-encrypted with the newest key"},
            )
        self.stdout.write(f"Done. Re-encrypted {count} credentials with the newest key.")
