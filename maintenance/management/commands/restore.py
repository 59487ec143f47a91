from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from maintenance.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Load a backup written by `manage.py backup` into the configured database (of the same "
        "engine) and file paths, then check every counted table has its rows. Refuses a "
        "database that already holds the app unless --force. Stop the web server and workers "
        "first; run `migrate` after restoring into a newer release."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the .tar.gz written by manage.py backup")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace what the configured database and file paths hold now",
        )

    def handle(self, *args, archive, force=False, **options):
        path = Path(archive)
        if not path.is_file():
            raise CommandError(f"No backup file at {path}.")
        try:
            manifest = backup_restore(archive_path=path, force=force)
        except (BackupError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        counts = ", ".join(f"{label} {n}" for label, n in manifest["counts"].items())
        self.stdout.write(
            f"Done. Restored the backup of {manifest['created_at']} ({counts})."
        )
