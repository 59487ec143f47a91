"""Run one project sync on a worker: fetch the source, build the snapshot of the revision it
names (or reuse the one already on disk), install its requirements, find its playbooks, check
them, and make it the project's current snapshot.

A snapshot is built (and sealed read-only by automation/runner/sources.py) in a hidden
directory beside its final place, and renamed there only when complete: a failed or cancelled
sync leaves no half snapshot, and the project's last good snapshot keeps serving launches.
"""

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from automation import validation
from automation.models import ProjectSnapshot, ProjectSync, ProjectSyncLog
from automation.models.projects import Project
from automation.runner import sandbox, sources
from automation.services.projects import snapshot_record
from inventory import crypto
from inventory.keys import resolve_key_path

logger = logging.getLogger(__name__)
FLUSH_LINES = 200
FLUSH_SECONDS = 0.5
CANCEL_POLL_SECONDS = 0.5
LINE_CHARS = 4000


class SyncLog:
    """Lines of a sync, written in batches (every FLUSH_LINES lines or FLUSH_SECONDS)."""

    def __init__(self, sync: ProjectSync):
        self.sync = sync
        self.pending: list[ProjectSyncLog] = []
        self.number = ProjectSyncLog.objects.filter(sync=sync).count()
        self.flushed_at = time.monotonic()

    def __call__(self, line: str) -> None:
        for part in (line.rstrip("\n") or "").split("\n") or [""]:
            self.number += 1
            self.pending.append(
                ProjectSyncLog(sync=self.sync, line_number=self.number, content=part[:LINE_CHARS])
            )
        if len(self.pending) >= FLUSH_LINES or time.monotonic() - self.flushed_at > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            ProjectSyncLog.objects.bulk_create(self.pending)
            self.pending = []
        self.flushed_at = time.monotonic()


class CancelWatch:
    """``cancelled()`` for the sources functions: reads the sync's cancel flag at most every
    CANCEL_POLL_SECONDS, and flushes the log meanwhile so the page follows the sync live."""

    def __init__(self, sync: ProjectSync, log: SyncLog):
        self.sync, self.log = sync, log
        self.checked_at = 0.0
        self.requested = False

    def __call__(self) -> bool:
        if self.requested:
            return True
        now = time.monotonic()
        if now - self.checked_at >= CANCEL_POLL_SECONDS:
            self.checked_at = now
            try:
                self.log.flush()
                self.requested = ProjectSync.objects.filter(
                    pk=self.sync.pk, cancel_requested=True
                ).exists()
            except DatabaseError:
                logger.warning("sync %s: database unavailable while polling", self.sync.sync_id)
        return self.requested


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def execute_sync(sync: ProjectSync) -> ProjectSync:
    """Run ``sync`` (already claimed: running) to its end and record the result."""
    log = SyncLog(sync)
    cancelled = CancelWatch(sync, log)
    project = sync.project
    try:
        snapshot = _sync(project, sync, log, cancelled)
    except sources.SyncCancelled:
        log("Cancelled.")
        _end(sync, log, ProjectSync.Status.CANCELLED, "Cancelled while running.")
    except (sources.SyncError, ValidationError, sandbox.SandboxUnavailable) as exc:
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        log(f"ERROR! {reason}")
        _end(sync, log, ProjectSync.Status.FAILED, reason)
    except Exception as exc:
        log(f"ERROR! Internal error: {exc}")
        _end(sync, log, ProjectSync.Status.FAILED, f"Internal error while syncing: {exc}")
        raise
    else:
        _end(
            sync,
            log,
            ProjectSync.Status.SUCCESS,
            "",
            revision=snapshot.revision,
            snapshot=snapshot,
        )
    return sync


def _end(sync: ProjectSync, log: SyncLog, status: str, message: str, **fields) -> None:
    with transaction.atomic():
        log.flush()
        sync.finish(status, error_message=message, **fields)


def _fetch(project: Project, log: SyncLog, cancelled: CancelWatch) -> tuple[str, str]:
    """(revision, what was asked) of the project's source, fetched into its cache."""
    if project.kind == Project.Kind.ARCHIVE:
        archive = project.directory / project.archive_file if project.archive_file else None
        if archive is None or not archive.is_file():
            raise sources.SyncError("The project has no archive: upload one.")
        log(f"Archive {project.archive_name}")
        return file_sha256(archive), project.archive_name
    project.directory.mkdir(parents=True, exist_ok=True)
    with _git_access(project) as (key, token):
        revision = sources.git_fetch(
            url=project.url,
            ref=project.ref,
            cache=project.cache_dir,
            log=log,
            cancelled=cancelled,
            key_file=key,
            token=token,
        )
    return revision, project.ref


@contextlib.contextmanager
def _git_access(project: Project) -> Iterator[tuple[Path | None, tuple[str, str] | None]]:
    """(key file, (user, token)) the fetch authenticates with. A stored Git credential's key is
    decrypted into a 0600 file in a private scratch directory for the fetch and removed after
    it; its https token is handed to git through an askpass helper (sources.py), never in the
    URL. Without a credential: the project's key file, if any."""
    credential = project.credential
    if credential is None:
        yield (resolve_key_path(project.key_path) if project.key_path else None), None
        return
    try:
        values = credential.secrets()
    except crypto.CredentialsKeyError as exc:
        raise sources.SyncError(f"credential {credential.name}: {exc}") from exc
    token = (credential.username or "git", values["token"]) if values.get("token") else None
    if not values.get("private_key"):
        yield None, token
        return
    try:
        key = crypto.load_private_key(values["private_key"], values.get("passphrase", ""))
    except ValidationError as exc:
        raise sources.SyncError(f"credential {credential.name}: {' '.join(exc.messages)}") from exc
    scratch = Path(tempfile.mkdtemp(prefix="git-key-"))
    try:
        path = scratch / "key"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(crypto.unencrypted_openssh(key))
        yield path, token
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _sync(project: Project, sync: ProjectSync, log: SyncLog, cancelled: CancelWatch):
    sandbox.check()
    revision, ref = _fetch(project, log, cancelled)
    log(f"Revision {revision}")
    ProjectSync.objects.filter(pk=sync.pk).update(revision=revision)
    snapshots = project.directory / "snapshots"
    final = snapshots / revision
    known = ProjectSnapshot.objects.filter(project=project, revision=revision).first()
    if known is not None and known.on_disk:
        log(f"Snapshot of {revision[:12]} is already on disk: using it.")
        return snapshot_record(
            project=project,
            revision=revision,
            ref=ref or known.ref,
            path=final,
            playbooks=known.playbooks,
            requirements_installed=known.requirements_installed,
            warnings=known.warnings,
        )
    snapshots.mkdir(parents=True, exist_ok=True)
    building = snapshots / f".{revision}.{sync.sync_id.hex}"
    try:
        if project.kind == Project.Kind.ARCHIVE:
            sources.archive_unpack(
                archive=project.directory / project.archive_file, dest=building, log=log
            )
        else:
            sources.git_export(
                cache=project.cache_dir,
                revision=revision,
                dest=building,
                log=log,
                cancelled=cancelled,
            )
        if cancelled():
            raise sources.SyncCancelled("Cancelled.")
        installed = sources.requirements_install(snapshot=building, log=log, cancelled=cancelled)
        playbooks = sources.discover_playbooks(building)
        log(f"Playbooks found: {len(playbooks)}")
        for path in playbooks:
            log(f"  {path}")
        warnings = _check_playbooks(building, playbooks, log, cancelled)
        if final.exists():  # left by a sync that died before recording it
            sources.snapshot_remove(final)
        building.rename(final)
    except BaseException:
        sources.snapshot_remove(building)
        raise
    return snapshot_record(
        project=project,
        revision=revision,
        ref=ref,
        path=final,
        playbooks=playbooks,
        requirements_installed=installed,
        warnings=warnings,
    )


def _check_playbooks(
    snapshot: Path, playbooks: list[str], log: SyncLog, cancelled: CancelWatch
) -> list[str]:
    """Each playbook's syntax check, from the snapshot root as a job runs it: a playbook that
    fails is a warning of the sync (the others still run), as are missing vars files."""
    warnings: list[str] = []
    env = sources.run_environment(snapshot)
    for path in playbooks:
        if cancelled():
            raise sources.SyncCancelled("Cancelled.")
        try:
            found = validation.check_project_playbook(snapshot, path, env=env)
        except ValidationError as exc:
            found = [f"{path}: {message}" for message in exc.messages]
        else:
            found = [f"{path}: {message}" for message in found]
        for warning in found:
            log(f"WARNING: {warning}")
        warnings += found
    return warnings
