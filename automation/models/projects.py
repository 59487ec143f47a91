"""Projects: playbooks that live in a Git repository or an uploaded archive, with the files
beside them (roles, templates, vars files, plugins, ansible.cfg) and the Galaxy requirements
they name.

A sync turns the project's source into a **snapshot**: a read-only directory under
``PROJECTS_DIR/<project id>/snapshots/<revision>`` holding the files at one revision
(a commit SHA, or an archive's sha256) and the roles and collections its requirements files
install. Snapshots never change once complete; a job runs inside one, and a relaunch runs in
the same one again.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from auditing.mixins import AuditedMixin
from auditing.models import AuditLog
from auditing.services import audit_record
from automation.models.jobs import ConditionalTransitions, Job


def projects_root() -> Path:
    return Path(settings.PROJECTS_DIR)


class Project(AuditedMixin, models.Model):
    class Kind(models.TextChoices):
        GIT = "git", "Git repository"
        ARCHIVE = "archive", "Uploaded archive"

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.GIT)
    # Git: https://, ssh://, user@host:path, file:// or a local path.
    url = models.CharField(max_length=1000, blank=True)
    # Git: a branch, a tag or a commit; empty is the repository's default branch.
    ref = models.CharField(max_length=255, blank=True)
    # Git over ssh: a deploy key file, relative to SSH_KEYS_DIR (as servers' keys).
    key_path = models.CharField(max_length=500, blank=True)
    # Git access from the credential store (an SSH key or an https token); wins over key_path.
    credential = models.ForeignKey(
        "inventory.Credential",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="projects",
        limit_choices_to={"kind": "git"},
    )
    # Archive: the uploaded file as stored by the app (relative to the project's directory)
    # and the name it was uploaded with.
    archive_file = models.CharField(max_length=500, blank=True)
    archive_name = models.CharField(max_length=255, blank=True)
    current_snapshot = models.ForeignKey(
        "automation.ProjectSnapshot",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="projects_created",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_resource_type = "project"
    audit_ignored_fields = frozenset({"created_at", "updated_at", "current_snapshot"})
    audit_unmasked_fields = frozenset({"key_path", "credential"})  # a path and an id, not secrets

    class Meta:
        db_table = "projects"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("project_detail", kwargs={"pk": self.pk})

    @property
    def directory(self) -> Path:
        return projects_root() / str(self.pk)

    @property
    def cache_dir(self) -> Path:
        return self.directory / "cache.git"

    @property
    def source_label(self) -> str:
        if self.kind == self.Kind.ARCHIVE:
            return self.archive_name or "(no archive uploaded)"
        return f"{self.url} @ {self.ref or 'default branch'}"


class ProjectSnapshot(models.Model):
    """The files of a project at one revision, on disk, read-only. Rows are never updated but
    for ``pruned_at`` (its directory was removed: no job, and not the project's current one,
    needs it). Jobs keep pointing at a pruned snapshot, so their page still names the
    revision."""

    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="snapshots")
    # A commit SHA (Git) or the archive's sha256.
    revision = models.CharField(max_length=64)
    # What the revision was asked as (a branch, a tag, an archive's name).
    ref = models.CharField(max_length=255, blank=True)
    # Relative to projects_root().
    path = models.CharField(max_length=500)
    playbooks = models.JSONField(default=list, blank=True)
    requirements_installed = models.BooleanField(default=False)
    warnings = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "project_snapshots"
        constraints = [
            models.UniqueConstraint(
                fields=["project", "revision"], name="uniq_project_snapshot_revision"
            ),
        ]
        indexes = [
            models.Index(fields=["project", "synced_at"], name="idx_snapshots_project_synced"),
        ]

    def __str__(self):
        return f"{self.project} @ {self.short_revision}"

    def get_absolute_url(self):
        return reverse(
            "project_revision", kwargs={"pk": self.project_id, "revision": self.revision}
        )

    @property
    def short_revision(self) -> str:
        return self.revision[:12]

    @property
    def absolute_path(self) -> Path:
        return projects_root() / self.path

    @property
    def on_disk(self) -> bool:
        return self.pruned_at is None and self.absolute_path.is_dir()


class ProjectSync(ConditionalTransitions, AuditedMixin, models.Model):
    """One sync of a project: fetch its source and make (or reuse) the snapshot of the revision
    it names. Runs on a worker like a job, with a job's life cycle: pending -> running ->
    success|failed|cancelled, or pending -> cancelled|failed."""

    Status = Job.Status
    FINISHED, LIVE, ALLOWED = Job.FINISHED, Job.LIVE, Job.ALLOWED

    sync_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="syncs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="project_syncs",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    # What was fetched: the source as it was when the sync started.
    source = models.CharField(max_length=1000, blank=True)
    revision = models.CharField(max_length=64, blank=True)
    snapshot = models.ForeignKey(
        ProjectSnapshot, on_delete=models.SET_NULL, null=True, blank=True, related_name="syncs"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    audit_resource_type = "project_sync"
    audit_id_field = "sync_id"
    audit_ignored_fields = frozenset({"created_at", "task_id", "worker"})

    class Meta:
        db_table = "project_syncs"
        indexes = [
            models.Index(fields=["project", "created_at"], name="idx_syncs_project_created"),
            models.Index(fields=["status", "created_at"], name="idx_syncs_status_created"),
        ]

    def __str__(self):
        return f"sync of {self.project} ({self.status})"

    def get_absolute_url(self):
        return reverse("project_sync_detail", kwargs={"sync_id": self.sync_id})

    def audit_create_action(self):
        return AuditLog.Action.SYNC

    def audit_creator(self):
        return self.user if self.user_id else None

    @property
    def is_live(self):
        return self.status in self.LIVE

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.completed_at or timezone.now()) - self.started_at

    def transition(self, to, *, audit_user=None, **fields):
        """Move to ``to`` with ``fields``, only from a status that may lead there, with its
        audit row in the same transaction (as Job.transition). False when another process
        changed the row first."""
        sources = [s for s, targets in self.ALLOWED.items() if to in targets]
        if self.status not in sources:
            return False
        with transaction.atomic():
            updated = self._apply_transition(sources, to, fields, audit_user)
        if not updated:
            self.refresh_from_db()
            return False
        return True

    def transition_audit_action(self, old_status, to):
        return AuditLog.Action.CANCEL if to == self.Status.CANCELLED else AuditLog.Action.UPDATE

    def start(self, *, worker=""):
        if self.status != self.Status.PENDING:
            return False
        return self.transition(self.Status.RUNNING, started_at=timezone.now(), worker=worker)

    def finish(self, status, *, error_message="", audit_user=None, **fields):
        return self.transition(
            status,
            audit_user=audit_user,
            error_message=error_message,
            completed_at=timezone.now(),
            **fields,
        )

    def request_cancel(self, *, user=None):
        """A pending sync never starts; a running one is flagged for its worker."""
        if self.status == self.Status.PENDING:
            return self.finish(
                self.Status.CANCELLED, error_message="Cancelled before it started.",
                audit_user=user,
            )
        if self.status == self.Status.RUNNING:
            with transaction.atomic():
                if not ProjectSync.objects.filter(
                    pk=self.pk, status=self.Status.RUNNING
                ).update(cancel_requested=True):
                    self.refresh_from_db()
                    return False
                details = {"changes": {"cancel_requested": [False, True]}}
                audit_record(AuditLog.Action.CANCEL, self, details, user=user)
            self.cancel_requested = True
            return True
        return False


class ProjectSyncLog(models.Model):
    """One line a sync printed, numbered from 1."""

    id = models.BigAutoField(primary_key=True)
    sync = models.ForeignKey(ProjectSync, on_delete=models.CASCADE, related_name="logs")
    line_number = models.PositiveIntegerField()
    content = models.TextField(blank=True)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "project_sync_logs"
        constraints = [
            models.UniqueConstraint(
                fields=["sync", "line_number"], name="uniq_project_sync_logs_line"
            ),
        ]

    def __str__(self):
        return f"{self.sync_id}:{self.line_number}"
