"""Playbooks: the current version of each (a file under PLAYBOOKS_DIR) and its history."""

from django.db import models

from automation import storage


class Playbook(models.Model):
    """An Ansible playbook. Its content lives in a file under PLAYBOOKS_DIR whose name the app
    generates; ``file_path`` is that name relative to PLAYBOOKS_DIR, never a user's path.
    Deleting is soft (``is_active=False``) so jobs and history keep pointing at it."""

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    file_path = models.CharField(max_length=500)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "playbooks"
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def absolute_path(self):
        return storage.resolve(self.file_path)

    def read_content(self):
        """The playbook's current text ('' when its file is missing)."""
        return storage.read(self.file_path)

    @property
    def content_sha256(self):
        return storage.sha256_text(self.read_content())
