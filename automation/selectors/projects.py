"""Project reads: the projects list, one project with its syncs and snapshots, a sync's console
lines, the files of a snapshot and the comparison of two snapshots file by file."""

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.shortcuts import get_object_or_404

from automation.diff import Row, side_by_side, stats
from automation.models import Playbook, Project, ProjectSnapshot, ProjectSync, ProjectSyncLog

SYNC_WINDOW = 1000
# Files shown or compared: bigger ones are named, not read.
FILE_MAX_BYTES = 512 * 1024
# What a URL may carry that a page must never show: https://user:token@host/...
URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def public_url(url: str) -> str:
    """A repository address without the user and password an https URL may hold."""
    return URL_CREDENTIALS.sub("", url or "")


def project_list(*, state: str = "active") -> QuerySet[Project]:
    projects = Project.objects.select_related("current_snapshot")
    if state in ("active", "deleted"):
        projects = projects.filter(is_active=(state == "active"))
    syncs = ProjectSync.objects.filter(project=OuterRef("pk")).order_by("-created_at")
    return projects.annotate(
        last_sync_status=Subquery(syncs.values("status")[:1]),
        last_sync_at=Subquery(syncs.values("created_at")[:1]),
        playbook_count=Count("playbooks", filter=Q(playbooks__is_active=True)),
    ).order_by("name")


def project_get(*, pk: int) -> Project:
    return get_object_or_404(Project.objects.select_related("current_snapshot"), pk=pk)


def project_playbooks(*, project: Project) -> QuerySet[Playbook]:
    return Playbook.objects.filter(project=project).order_by("-is_active", "path")


def project_syncs(*, project: Project, limit: int = 20) -> QuerySet[ProjectSync]:
    return (
        ProjectSync.objects.filter(project=project)
        .select_related("user", "snapshot")
        .order_by("-created_at")[:limit]
    )


def project_snapshots(*, project: Project, limit: int = 50) -> QuerySet[ProjectSnapshot]:
    return ProjectSnapshot.objects.filter(project=project).order_by("-synced_at")[:limit]


def live_sync(*, project: Project) -> ProjectSync | None:
    return ProjectSync.objects.filter(project=project, status__in=ProjectSync.LIVE).first()


def sync_get(*, sync_id) -> ProjectSync:
    return get_object_or_404(
        ProjectSync.objects.select_related("project", "user", "snapshot"), sync_id=sync_id
    )


def sync_lines(*, sync: ProjectSync, after: int = 0) -> list[ProjectSyncLog]:
    return list(
        ProjectSyncLog.objects.filter(sync=sync, line_number__gt=after).order_by("line_number")[
            :SYNC_WINDOW
        ]
    )


def sync_text(*, sync: ProjectSync):
    """The whole log, for the download, a batch of rows at a time."""
    after = 0
    while True:
        rows = sync_lines(sync=sync, after=after)
        for row in rows:
            yield row.content + "\n"
        if len(rows) < SYNC_WINDOW:
            return
        after = rows[-1].line_number


def snapshot_get(*, project: Project, revision: str) -> ProjectSnapshot:
    return get_object_or_404(ProjectSnapshot, project=project, revision=revision)


def snapshot_files(snapshot: ProjectSnapshot) -> list[str]:
    """Relative paths of the snapshot's files, sorted (installed requirements left out)."""
    root = snapshot.absolute_path
    if not snapshot.on_disk:
        return []
    found = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (Path(directory) == root and d == ".requirements"))
        for name in files:
            found.append((Path(directory) / name).relative_to(root).as_posix())
    return sorted(found)


def _inside(snapshot: ProjectSnapshot, relative: str) -> Path | None:
    root = snapshot.absolute_path.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or path == root or not path.is_file():
        return None
    return path


def snapshot_file_text(snapshot: ProjectSnapshot, relative: str) -> str:
    """The text of one file of a snapshot. 404 for a path that is not a file inside it; a
    note for binary or oversized files."""
    if not snapshot.on_disk:
        raise Http404("This revision is no longer on disk.")
    path = _inside(snapshot, relative or "")
    if path is None:
        raise Http404("No such file in this revision.")
    return _read(path)


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        if path.stat().st_size > FILE_MAX_BYTES:
            return f"(not shown: {path.stat().st_size:,} bytes)"
        data = path.read_bytes()
    except OSError as exc:
        return f"(cannot be read: {exc.strerror})"
    if b"\x00" in data:
        return "(binary file)"
    return data.decode("utf-8", errors="replace")


@dataclass
class FileChange:
    path: str
    status: str  # added, removed, changed
    rows: list[Row] = field(default_factory=list)
    added: int = 0
    removed: int = 0


def snapshot_compare(base: ProjectSnapshot, to: ProjectSnapshot) -> list[FileChange]:
    """Files that differ between two snapshots of a project, each with its side-by-side
    diff."""
    if not (base.on_disk and to.on_disk):
        raise Http404("A revision compared is no longer on disk; sync it again to compare.")
    old_files, new_files = set(snapshot_files(base)), set(snapshot_files(to))
    changes = []
    for relative in sorted(old_files | new_files):
        old_path = _inside(base, relative) if relative in old_files else None
        new_path = _inside(to, relative) if relative in new_files else None
        if old_path and new_path and old_path.read_bytes() == new_path.read_bytes():
            continue
        status = "changed" if old_path and new_path else ("added" if new_path else "removed")
        rows = side_by_side(_read(old_path), _read(new_path))
        added, removed = stats(rows)
        changes.append(FileChange(relative, status, rows, added, removed))
    return changes
