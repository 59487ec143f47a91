"""Consistent backups of everything the app keeps, and their restore.

A backup is one ``.tar.gz`` holding:
- ``database.sql`` (MySQL/MariaDB: ``mariadb-dump --single-transaction``, a consistent snapshot
  without locking the tables) or ``database.sqlite3`` (SQLite's online backup API);
- ``files/playbooks/``, ``files/ssh_keys/``, ``files/known_hosts``: the playbook files of every
  version, the SSH keys and the trusted host keys;
- ``manifest.json``: when, which engine, the applied migrations and the row counts of the main
  tables, which ``restore`` checks after loading.

The database is dumped first, then the files copied: every playbook version writes a new file
before its row points at it, so each file the dump refers to already exists when it is copied.
``SECRET_KEY`` (and any encryption key) is not in the archive: keep it apart, with the same care
(docs/operations.md).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

FORMAT = 1
# Tables whose row counts the manifest records and a restore must find again.
COUNTED = [
    "accounts.User",
    "inventory.Server",
    "automation.Playbook",
    "automation.Job",
    "automation.JobLog",
    "auditing.AuditLog",
]


class BackupError(Exception):
    """A backup or restore that cannot go on; ``str()`` says why."""


@dataclass(frozen=True)
class FileSet:
    """A path the app keeps, with its name inside the archive."""

    name: str
    path: Path


def file_sets() -> list[FileSet]:
    return [
        FileSet("playbooks", Path(settings.PLAYBOOKS_DIR)),
        # Uploaded archives, Git caches and snapshots: jobs name revisions that live here.
        FileSet("projects", Path(settings.PROJECTS_DIR)),
        FileSet("ssh_keys", Path(settings.SSH_KEYS_DIR)),
        FileSet("known_hosts", Path(settings.SSH_KNOWN_HOSTS)),
    ]


def _model(label):
    """The model for ``label``, or None when its app is not installed."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def row_counts() -> dict[str, int]:
    counts = {}
    for label in COUNTED:
        model = _model(label)
        if model is not None:
            counts[label] = model.objects.count()
    return counts


def applied_migrations() -> list[list[str]]:
    recorder = MigrationRecorder(connection)
    return sorted([app, name] for app, name in recorder.applied_migrations())


def _mysql_env_and_args(db) -> tuple[dict[str, str], list[str]]:
    """Connection options for the mysql tools; the password travels in the environment, never
    on a command line other users could read."""
    env = {**os.environ, "MYSQL_PWD": str(db.get("PASSWORD") or "")}
    args = ["--protocol=tcp"] if db.get("HOST") and not str(db["HOST"]).startswith("/") else []
    if db.get("HOST"):
        key = "--socket" if str(db["HOST"]).startswith("/") else "--host"
        args.append(f"{key}={db['HOST']}")
    if db.get("PORT"):
        args.append(f"--port={db['PORT']}")
    args.append(f"--user={db.get('USER') or 'root'}")
    return env, args


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(
        f"{names[0]} is not installed (Debian: apt-get install mariadb-client; "
        "scripts/system-deps.sh installs it)."
    )


def _dump_database(target: Path) -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        source = sqlite3.connect(db["NAME"])
        try:
            copy = sqlite3.connect(target / "database.sqlite3")
            with copy:
                source.backup(copy)
            copy.close()
        finally:
            source.close()
        return "sqlite"
    if connection.vendor == "mysql":
        env, args = _mysql_env_and_args(db)
        with open(target / "database.sql", "wb") as out:
            done = subprocess.run(
                [
                    _tool("mariadb-dump", "mysqldump"),
                    *args,
                    "--single-transaction",
                    "--quick",
                    "--hex-blob",
                    "--routines",
                    "--default-character-set=utf8mb4",
                    db["NAME"],
                ],
                env=env,
                stdout=out,
                stderr=subprocess.PIPE,
                text=False,
            )
        if done.returncode != 0:
            raise BackupError(f"mariadb-dump failed: {done.stderr.decode(errors='replace')[:500]}")
        return "mysql"
    raise BackupError(f"Backups of a {connection.vendor} database are not supported.")


def backup_create(*, output: Path) -> dict:
    """Write a backup archive to ``output`` (a .tar.gz path). Returns its manifest."""
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} exists already: choose a new file name.")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="backup-", dir=output.parent) as tmp:
        staging = Path(tmp)
        engine = _dump_database(staging)
        files = staging / "files"
        files.mkdir()
        for item in file_sets():
            if item.path.is_dir():
                shutil.copytree(item.path, files / item.name, symlinks=True)
            elif item.path.is_file():
                shutil.copy2(item.path, files / item.name)
        manifest = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "engine": engine,
            "migrations": applied_migrations(),
            "counts": row_counts(),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))
        partial = output.with_name(output.name + ".partial")
        # Created 0600 before anything is written: the archive holds the SSH keys.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for entry in sorted(staging.iterdir()):
                tar.add(entry, arcname=entry.name)
        partial.rename(output)
    return manifest


def _read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.extractfile("manifest.json")
    except KeyError as exc:
        raise BackupError("Not an infra_automation backup: manifest.json is missing.") from exc
    if member is None:
        raise BackupError("Not an infra_automation backup: manifest.json is not a file.")
    manifest = json.loads(member.read())
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Backup format {manifest.get('format')!r} is not supported here.")
    return manifest


def _database_is_empty() -> bool:
    return "django_migrations" not in connection.introspection.table_names() or not (
        MigrationRecorder(connection).applied_migrations()
    )


def _load_database(staging: Path, engine: str) -> None:
    db = connection.settings_dict
    if engine != connection.vendor:
        raise BackupError(
            f"The backup holds a {engine} database; this configuration uses {connection.vendor}."
        )
    if engine == "sqlite":
        connection.close()
        shutil.copyfile(staging / "database.sqlite3", db["NAME"])
        return
    env, args = _mysql_env_and_args(db)
    with open(staging / "database.sql", "rb") as dump:
        done = subprocess.run(
            [_tool("mariadb", "mysql"), *args, "--default-character-set=utf8mb4", db["NAME"]],
            env=env,
            stdin=dump,
            stderr=subprocess.PIPE,
        )
    if done.returncode != 0:
        raise BackupError(f"Loading the dump failed: {done.stderr.decode(errors='replace')[:500]}")
    connection.close()


def _safe_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """Refuse absolute paths, ``..``, links and devices: a restore writes only its own files."""
    members = []
    for member in archive.getmembers():
        path = Path(member.name)
        if path.is_absolute() or ".." in path.parts:
            raise BackupError(f"Unsafe path in the backup: {member.name!r}.")
        if not (member.isfile() or member.isdir()):
            raise BackupError(f"Unsupported entry in the backup: {member.name!r}.")
        members.append(member)
    return members


def backup_restore(*, archive_path: Path, force: bool = False) -> dict:
    """Load a backup into the configured database and file paths. Refuses a database that
    already holds the app's tables unless ``force``. Returns the manifest after checking that
    every counted table has the rows the backup recorded."""
    if not force and not _database_is_empty():
        raise BackupError(
            "The configured database is not empty: restore into a new database, or pass --force "
            "to replace its contents."
        )
    try:
        archive = tarfile.open(archive_path, "r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"Cannot read {archive_path}: {exc}") from exc
    with archive, tempfile.TemporaryDirectory(prefix="restore-") as tmp:
        manifest = _read_manifest(archive)
        staging = Path(tmp)
        archive.extractall(staging, members=_safe_members(archive), filter="data")
        _load_database(staging, manifest["engine"])
        for item in file_sets():
            source = staging / "files" / item.name
            if item.path.is_dir():
                shutil.rmtree(item.path)
            elif item.path.exists():
                item.path.unlink()
            item.path.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, item.path, symlinks=True)
            elif source.is_file():
                shutil.copy2(source, item.path)
    found = row_counts()
    missing = {
        label: (count, found.get(label))
        for label, count in manifest["counts"].items()
        if found.get(label) != count
    }
    if missing:
        raise BackupError(f"Restored row counts differ from the backup: {missing}")
    return manifest
