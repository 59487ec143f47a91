"""Playbooks: the current version of each (a file under PLAYBOOKS_DIR) and its history."""

import json

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from auditing.mixins import AuditedMixin
from auditing.models import stamp_actor
from automation import storage


class Playbook(AuditedMixin, models.Model):
    """An Ansible playbook. Its content lives in a file under PLAYBOOKS_DIR whose name the app
    generates; ``file_path`` is that name relative to PLAYBOOKS_DIR, never a user's path.
    Deleting is soft (``is_active=False``) so jobs and history keep pointing at it."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    # A playbook of a project: its file is ``path`` inside the project's snapshots (found by a
    # sync), not a file of its own; ``file_path`` is then empty and it has no version history
    # (the project's revisions are its versions).
    project = models.ForeignKey(
        "automation.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="playbooks",
    )
    path = models.CharField(max_length=500, blank=True)

    class HostOverlap(models.TextChoices):
        WAIT = "wait", "Wait for the running job"
        REFUSE = "refuse", "Refuse the launch"

    # A job of this playbook targeting a host a running job of it is on: waits (stays pending
    # until that one ends) or is refused at launch. Two patch runs never overlap on a host.
    host_overlap = models.CharField(
        max_length=10, choices=HostOverlap.choices, default="wait", db_default="wait"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # How playbooks appear in the audit trail (auditing.mixins).
    audit_resource_type = "playbook"
    audit_ignored_fields = frozenset({"updated_at", "created_at"})

    class Meta:
        db_table = "playbooks"
        ordering = ["name"]
        constraints = [
            # Single-file playbooks have no project (NULL: never equal), so this binds only a
            # project's own paths.
            models.UniqueConstraint(fields=["project", "path"], name="uniq_playbooks_project_path"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("playbook_detail", kwargs={"pk": self.pk})

    @property
    def in_project(self):
        return self.project_id is not None

    @property
    def absolute_path(self):
        if self.in_project:
            snapshot = self.project.current_snapshot
            return snapshot.absolute_path / self.path if snapshot else None
        return storage.resolve(self.file_path)

    def read_content(self):
        """The playbook's current text ('' when its file is missing). A project playbook's
        text is the file in the project's current snapshot."""
        if self.in_project:
            path = self.absolute_path
            try:
                return path.read_text(encoding="utf-8", errors="replace") if path else ""
            except OSError:
                return ""
        return storage.read(self.file_path)

    def edit_fingerprint(self, content):
        """What an edit form started from: the name, the description and ``content`` (the
        current text) in one key. A save whose form carries another fingerprint would undo a
        change someone made meanwhile, to any of the three."""
        fields = [self.name, self.description, storage.sha256_text(content)]
        return storage.sha256_text(json.dumps(fields))

    @property
    def missing_file_message(self):
        """Why this playbook has no content, when its file is gone (moved, deleted or lost with
        a disk); '' when the file is there. Its content then reads as '', which would otherwise
        look like an empty playbook."""
        if self.in_project:
            path = self.absolute_path
            if path is not None and path.is_file():
                return ""
            return (
                f"Playbook {self.path} is not in the current snapshot of project "
                f"{self.project.name}: sync the project, or pick another playbook."
            )
        if storage.exists(self.file_path):
            return ""
        return (
            f"The file of playbook {self.name} is missing: it is expected at "
            f"{self.absolute_path}. Put the file back, or restore a version from its history."
        )

    @property
    def content_sha256(self):
        return storage.sha256_text(self.read_content())


class PlaybookVersion(models.Model):
    """One version of a playbook: the content before and after a change, who made it and why.

    Every create, edit, upload, replace, delete, undelete and restore writes one. The table keeps
    the name it was created with (``playbook_audit_logs``). ``playbook_id`` is a plain integer,
    not a foreign key, so the history of a playbook survives its deletion; ``playbook_name``
    keeps the name it had then."""

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        DELETED = "deleted", "Deleted"
        UPLOADED = "uploaded", "Uploaded"
        REPLACED = "replaced", "Replaced"
        RESTORED = "restored", "Restored"
        UNDELETED = "undeleted", "Undeleted"

    id = models.BigAutoField(primary_key=True)
    playbook_id = models.PositiveBigIntegerField()
    playbook_name = models.CharField(max_length=255)
    # PROTECT and a snapshot of the name and role, as on audit_logs (auditing/models.py).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="playbook_changes",
    )
    username = models.CharField(max_length=150, blank=True, default="", db_default="")
    user_role = models.CharField(max_length=20, blank=True, default="", db_default="")
    action = models.CharField(max_length=20, choices=Action.choices)
    old_content = models.TextField(blank=True)
    new_content = models.TextField(blank=True)
    # sha256 of new_content: the version key jobs record in jobs.playbook_sha256.
    new_sha256 = models.CharField(max_length=64, blank=True)
    changes_description = models.TextField(blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "playbook_audit_logs"
        indexes = [
            models.Index(fields=["playbook_id", "created_at"], name="idx_pb_audit_playbook"),
            models.Index(fields=["action"], name="idx_pb_audit_action"),
            models.Index(fields=["created_at"], name="idx_pb_audit_created_at"),
            models.Index(fields=["new_sha256"], name="idx_pb_audit_sha256"),
        ]

    def __str__(self):
        return f"{self.playbook_name} {self.action} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        stamp_actor(self)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        """The diff page showing this version against the one before it."""
        return reverse("playbook_diff", kwargs={"pk": self.playbook_id}) + f"?to={self.pk}"

    @property
    def actor(self):
        """The name shown for who made the change: as written, else "system"."""
        return self.username or "system"
