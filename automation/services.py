"""Writes that span models: playbooks with their files and history, jobs with their tasks."""

import hashlib

from django.db import transaction

from auditing.models import PlaybookAuditLog
from automation import storage
from automation.models import Playbook


def sha256_text(text):
    return hashlib.sha256(text.encode()).hexdigest()


def playbook_create(
    *, name, description, content, user, ip_address=None, action=PlaybookAuditLog.Action.CREATED
):
    """Store a new playbook: its file, its row and its first history entry, all or nothing."""
    file_path = storage.write(content)
    try:
        with transaction.atomic():
            playbook = Playbook.objects.create(
                name=name, description=description, file_path=file_path
            )
            PlaybookAuditLog.objects.create(
                playbook_id=playbook.pk,
                playbook_name=name,
                user=user,
                action=action,
                old_content="",
                new_content=content,
                new_sha256=sha256_text(content),
                changes_description=f"+{len(content.splitlines())} lines; created",
                ip_address=ip_address,
            )
    except BaseException:
        storage.delete(file_path)
        raise
    return playbook
