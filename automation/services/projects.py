"""Project writes: create and edit (with an uploaded archive stored by the app), start or cancel
a sync, record what a sync found, and prune snapshots nobody needs.

The sync itself runs on a worker (automation/runner/sync.py); everything here is what the web
process, the worker and the maintenance schedule share.
"""

import contextlib
import hashlib
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import User
from auditing.services import NO_USER
from automation.models import (
    Job,
    Playbook,
    Project,
    ProjectSnapshot,
    ProjectSync,
)
from automation.models.projects import projects_root
from automation.runner.snapshots import snapshot_remove
from automation.services.jobs import lost_runs
from inventory.keys import resolve_key_path
from inventory.models import Credential

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
# Git URLs a project may name. Git's other transports (``ext::`` runs a command, ``fd::``) are
# refused here and by GIT_ALLOW_PROTOCOL in the sandbox.
GIT_URL = re.compile(
    r"^(?:(?:https?|ssh|git|file)://\S+"  # a URL
    r"|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s:][^\s]*"  # scp-like user@host:path
    r"|/\S+)$"  # a local path
)
# A branch, a tag or a commit: what ``git check-ref-format`` allows, roughly, and never an
# option (a leading "-").
GIT_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/@+-]{1,255}(?<![./])$")
# Snapshots of a project kept on disk beyond the ones a live job or the project uses.
SNAPSHOTS_KEEP = 3


def clean_git_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError("Give the repository's URL or path.")
    if url.startswith("-") or not GIT_URL.match(url) or "\x00" in url:
        raise ValidationError(
            "Not a Git repository address: use https://..., ssh://..., user@host:path, "
            "file://... or an absolute path on the controller."
        )
    return url


def clean_git_ref(ref: str) -> str:
    ref = (ref or "").strip()
    if ref and not GIT_REF.match(ref):
        raise ValidationError(
            "Not a branch, tag or commit name (letters, digits and . _ / @ + -; not starting "
            "with '-', no '..')."
        )
    return ref


def clean_key_path(key_path: str) -> str:
    key_path = (key_path or "").strip()
    if key_path:
        resolve_key_path(key_path)  # raises ValidationError with the reason
    return key_path


def archive_suffix(name: str) -> str:
    lowered = name.lower()
    for suffix in ARCHIVE_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix
    raise ValidationError(
        f"{name!r} is not an archive this app unpacks: upload a .tar.gz, .tgz, .tar or .zip."
    )


def _store_archive(project: Project, upload: UploadedFile) -> tuple[str, str]:
    """Keep the uploaded archive in the project's directory under a name the app makes (its
    sha256); returns (stored name, uploaded name). Nothing is unpacked here: the sync does
    that on a worker, refusing escapes and bombs."""
    name = Path(upload.name or "archive").name[:255]
    suffix = archive_suffix(name)
    limit = settings.PROJECT_ARCHIVE_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            f"The archive is {upload.size:,} bytes; the limit is {limit:,} bytes."
        )
    folder = project.directory / "archives"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    partial = folder / f".upload-{timezone.now().timestamp()}"
    try:
        with partial.open("wb") as out:
            for chunk in upload.chunks():
                digest.update(chunk)
                out.write(chunk)
        stored = f"archives/{digest.hexdigest()}{suffix}"
        partial.replace(project.directory / stored)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ValidationError(f"The archive could not be stored: {exc.strerror}.") from exc
    return stored, name


def _check_source(
    kind: str, url: str, ref: str, key_path: str, credential: Credential | None = None
) -> dict[str, Any]:
    if kind == Project.Kind.GIT:
        if credential is not None and credential.kind != Credential.Kind.GIT:
            raise ValidationError(f"Credential {credential.name} is not a Git credential.")
        return {
            "url": clean_git_url(url),
            "ref": clean_git_ref(ref),
            "key_path": "" if credential is not None else clean_key_path(key_path),
            "credential": credential,
        }
    if kind == Project.Kind.ARCHIVE:
        return {"url": "", "ref": "", "key_path": "", "credential": None}
    raise ValidationError(f"Unknown project kind {kind!r}.")


def project_create(
    *,
    user: User,
    name: str,
    kind: str,
    description: str = "",
    url: str = "",
    ref: str = "",
    key_path: str = "",
    credential: Credential | None = None,
    archive: UploadedFile | None = None,
    sync: bool = True,
) -> Project:
    """A new project, and its first sync (after commit) unless ``sync`` is False. A Git
    ``credential`` (a stored key or https token) wins over ``key_path``."""
    source = _check_source(kind, url, ref, key_path, credential)
    if kind == Project.Kind.ARCHIVE and archive is None:
        raise ValidationError("Upload the project's archive.")
    if Project.objects.filter(name=name).exists():
        raise ValidationError(f"A project named {name!r} already exists.")
    try:
        with transaction.atomic():
            project = Project.objects.create(
                name=name, description=description, kind=kind, created_by=user, **source
            )
            if archive is not None:
                project.archive_file, project.archive_name = _store_archive(project, archive)
                project.save(update_fields=["archive_file", "archive_name", "updated_at"])
            if sync:
                project_sync_launch(project=project, user=user)
    except IntegrityError as exc:
        if Project.objects.filter(name=name).exists():
            raise ValidationError(f"A project named {name!r} already exists.") from exc
        raise
    return project


def project_update(
    *,
    project: Project,
    user: User,
    name: str,
    description: str = "",
    url: str = "",
    ref: str = "",
    key_path: str = "",
    credential: Credential | None = None,
    archive: UploadedFile | None = None,
) -> Project:
    """Change a project's name, description or source. A new source (URL, ref, key,
    credential or archive) starts a sync; the current snapshot keeps serving launches until it
    succeeds."""
    source = _check_source(project.kind, url, ref, key_path, credential)
    if Project.objects.filter(name=name).exclude(pk=project.pk).exists():
        raise ValidationError(f"A project named {name!r} already exists.")
    source_changed = any(getattr(project, field) != value for field, value in source.items())
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        renamed = project.name != name
        project.name, project.description = name, description
        for field, value in source.items():
            setattr(project, field, value)
        if archive is not None:
            project.archive_file, project.archive_name = _store_archive(project, archive)
            source_changed = True
        project.save()
        if renamed:  # its playbooks are named "<project>: <path>"
            for playbook in Playbook.objects.filter(project=project):
                playbook.name = _playbook_name(project, playbook.path)
                playbook.save(update_fields=["name", "updated_at"])
        if source_changed:
            project_sync_launch(project=project, user=user)
    return project


def project_set_active(*, project: Project, user: User, active: bool) -> Project:
    """Soft delete (or undo it): its playbooks leave the launch form with it; jobs and
    history keep pointing at it."""
    with transaction.atomic():
        project.is_active = active
        project.save(update_fields=["is_active", "updated_at"])
        if not active:
            for playbook in Playbook.objects.filter(project=project, is_active=True):
                playbook.is_active = False
                playbook.save(update_fields=["is_active", "updated_at"])
    return project


def project_sync_launch(*, project: Project, user: User | None) -> ProjectSync:
    """Start a sync of ``project`` (after commit), or return the one already pending or
    running: two syncs of one project never run together."""
    if not project.is_active:
        raise ValidationError(f"Project {project.name} is deleted; undelete it to sync.")
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        live = ProjectSync.objects.filter(project=project, status__in=ProjectSync.LIVE).first()
        if live is not None:
            return live
        sync = ProjectSync.objects.create(project=project, user=user, source=project.source_label)
        transaction.on_commit(lambda: _enqueue(sync))
    return sync


def _enqueue(sync: ProjectSync) -> None:
    try:
        task_id = async_task(
            "automation.tasks.run_sync",
            sync.pk,
            task_name=f"sync-{sync.sync_id}",
            group="syncs",
        )
    except Exception as exc:
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        message = f"could not be queued: the task broker did not answer ({text})"
        with contextlib.suppress(DatabaseError):
            sync.finish(ProjectSync.Status.FAILED, error_message=message)
        raise ValidationError(
            f"The sync could not be queued, so it will not run: {text}. Sync again once the "
            "task queue is back."
        ) from exc
    ProjectSync.objects.filter(pk=sync.pk).update(task_id=task_id or "")


def syncs_reap(*, now: datetime | None = None) -> list[ProjectSync]:
    """Fail syncs left running by a worker that is gone (as jobs_reap does for jobs); their
    half-built snapshot directories are removed by the next sync of the project."""
    running = list(ProjectSync.objects.filter(status=ProjectSync.Status.RUNNING))
    reaped = []
    for sync, reason in lost_runs(running, now=now or timezone.now()):
        if sync.finish(
            ProjectSync.Status.FAILED, error_message=f"worker lost: {reason}", audit_user=NO_USER
        ):
            reaped.append(sync)
    return reaped


def project_sync_cancel(*, sync: ProjectSync, user: User) -> bool:
    return sync.request_cancel(user=user)


def snapshot_record(
    *,
    project: Project,
    revision: str,
    ref: str,
    path: Path,
    playbooks: list[str],
    requirements_installed: bool,
    warnings: list[str],
) -> ProjectSnapshot:
    """The row of a snapshot a sync completed (or found complete), made the project's current
    one, and the project's playbooks brought in line with what it holds: new files become
    playbooks, files gone deactivate theirs, files back reactivate them."""
    with transaction.atomic():
        snapshot, created = ProjectSnapshot.objects.get_or_create(
            project=project,
            revision=revision,
            defaults={
                "ref": ref,
                "path": str(path.relative_to(projects_root())),
                "playbooks": playbooks,
                "requirements_installed": requirements_installed,
                "warnings": warnings,
            },
        )
        if not created and snapshot.pruned_at is not None:
            # Made again on disk after a prune: the same revision, the same content.
            ProjectSnapshot.objects.filter(pk=snapshot.pk).update(
                pruned_at=None,
                synced_at=timezone.now(),
                playbooks=playbooks,
                requirements_installed=requirements_installed,
                warnings=warnings,
            )
            snapshot.refresh_from_db()
        Project.objects.filter(pk=project.pk).update(current_snapshot=snapshot)
        project.current_snapshot = snapshot
        _sync_playbooks(project, playbooks)
    return snapshot


def _playbook_name(project: Project, path: str) -> str:
    name = f"{project.name}: {path}"[:255]
    clash = Playbook.objects.filter(name=name).exclude(project=project, path=path)
    return f"{name[:240]} ({project.pk})" if clash.exists() else name


def _sync_playbooks(project: Project, paths: list[str]) -> None:
    existing = {p.path: p for p in Playbook.objects.filter(project=project)}
    for path in paths:
        playbook = existing.get(path)
        if playbook is None:
            Playbook.objects.create(
                name=_playbook_name(project, path), project=project, path=path
            )
        elif not playbook.is_active and project.is_active:
            playbook.is_active = True
            playbook.save(update_fields=["is_active", "updated_at"])
    for path, playbook in existing.items():
        if path not in paths and playbook.is_active:
            playbook.is_active = False
            playbook.save(update_fields=["is_active", "updated_at"])


def snapshots_in_use() -> set[int]:
    """Snapshots that must stay on disk: every project's current one and those of live jobs."""
    current = Project.objects.exclude(current_snapshot=None).values_list(
        "current_snapshot_id", flat=True
    )
    live = Job.objects.filter(status__in=Job.LIVE).exclude(project_snapshot=None)
    return set(current) | set(live.values_list("project_snapshot_id", flat=True))


def snapshots_prune(*, keep: int = SNAPSHOTS_KEEP, older_than: timedelta | None = None) -> int:
    """Remove the directories of snapshots no live job or project needs, keeping the ``keep``
    most recent of each project (relaunches usually want a recent revision). Rows stay, marked
    pruned, so jobs still name their revision. Returns how many were removed."""
    in_use = snapshots_in_use()
    removed = 0
    on_disk = ProjectSnapshot.objects.filter(pruned_at=None).order_by("project_id", "-synced_at")
    seen: dict[int, int] = {}
    cutoff = timezone.now() - older_than if older_than else None
    for snapshot in on_disk:
        seen[snapshot.project_id] = seen.get(snapshot.project_id, 0) + 1
        if snapshot.pk in in_use or seen[snapshot.project_id] <= keep:
            continue
        if cutoff and snapshot.synced_at > cutoff:
            continue
        with transaction.atomic():
            # Re-checked under the row lock: a launch in between would need it.
            locked = ProjectSnapshot.objects.select_for_update().get(pk=snapshot.pk)
            if Job.objects.filter(project_snapshot=locked, status__in=Job.LIVE).exists():
                continue
            if Project.objects.filter(current_snapshot=locked).exists():
                continue
            ProjectSnapshot.objects.filter(pk=locked.pk).update(pruned_at=timezone.now())
        snapshot_remove(snapshot.absolute_path)
        removed += 1
    return removed
