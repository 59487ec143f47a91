from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from maintenance.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Write a consistent backup of the database (a snapshot that does not lock the tables) "
        "and of the playbook files, SSH keys and known_hosts into one .tar.gz (mode 0600). "
        "SECRET_KEY is not included: keep it apart. Restore with `manage.py restore`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="archive to write (default: DATA_DIR/backups/infra_automation-<UTC time>.tar.gz)",
        )

    def handle(self, *args, output=None, **options):
        from django.conf import settings

        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        path = Path(output) if output else (
            Path(settings.DATA_DIR) / "backups" / f"infra_automation-{stamp}.tar.gz"
        )
        try:
            manifest = backup_create(output=path)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{label} {n}" for label, n in manifest["counts"].items())
        self.stdout.write(f"Done. Wrote {path} ({path.stat().st_size:,} bytes; {counts}).")
