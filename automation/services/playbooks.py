"""Playbook writes: the file, the row and the history entry change together or not at all.

File first, then the database in one transaction. A new version always goes to a NEW file name;
the row switches to it inside the transaction and the old file is removed only after commit. A
failed save therefore leaves the previous version intact, and no row ever points at a missing or
half-written file.
"""

import difflib

import yaml
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from auditing.context import current_actor
from automation import storage
from automation.models import Playbook, PlaybookVersion
from automation.storage import sha256_text
from automation.validation import load_yaml

Action = PlaybookVersion.Action


class EditConflict(Exception):
    """The playbook changed after the editor loaded it; carries what it is now (name,
    description, content) and the fingerprint of that, for a deliberate second save."""

    def __init__(self, current: Playbook, current_content: str):
        super().__init__("The playbook was changed by someone else while you edited it.")
        self.current_name = current.name
        self.current_description = current.description
        self.current_content = current_content
        self.fingerprint = current.edit_fingerprint(current_content)


class NameTaken(Exception):
    """Another playbook has this name: the form checked, but a concurrent save won the race
    to the unique index. Nothing of this save was kept."""

    def __init__(self, name: str):
        super().__init__(f"A playbook named {name!r} already exists (it may be deleted).")


def _name_taken(name: str, *, exclude_pk: int | None = None) -> NameTaken | None:
    """NameTaken when an IntegrityError came from the unique name (compared with the column's
    own collation, as the index does), else None."""
    clash = Playbook.objects.filter(name=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    return NameTaken(name) if clash.exists() else None


def task_names(text: str) -> list[str]:
    """Names of the tasks, handlers and blocks in a playbook's text (empty if unparsable),
    read as the save-time check reads it (Ansible's tags such as ``!vault`` included)."""
    try:
        plays = load_yaml(text)
    except (yaml.YAMLError, ValidationError, RecursionError):
        return []
    names = []

    def walk(items):
        for item in items or []:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("name"), str):
                names.append(item["name"])
            for nested in ("block", "rescue", "always"):
                if isinstance(item.get(nested), list):
                    walk(item[nested])

    for play in plays if isinstance(plays, list) else []:
        if isinstance(play, dict):
            for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                if isinstance(play.get(section), list):
                    walk(play[section])
    return names


def change_summary(old: str, new: str) -> str:
    """A human summary such as "+12 -3 lines; tasks added: Install nginx"."""
    added = removed = 0
    for line in difflib.ndiff(old.splitlines(), new.splitlines()):
        if line.startswith("+ "):
            added += 1
        elif line.startswith("- "):
            removed += 1
    parts = [f"+{added} -{removed} lines"]
    before, after = task_names(old), task_names(new)
    if gained := [n for n in after if n not in before]:
        parts.append("tasks added: " + ", ".join(gained[:5]) + (" …" if len(gained) > 5 else ""))
    if lost := [n for n in before if n not in after]:
        parts.append("tasks removed: " + ", ".join(lost[:5]) + (" …" if len(lost) > 5 else ""))
    return "; ".join(parts)


def _record(
    playbook: Playbook,
    action: str,
    *,
    user: User | None,
    old: str,
    new: str,
    summary: str | None = None,
    ip_address: str | None = None,
) -> PlaybookVersion:
    return PlaybookVersion.objects.create(
        playbook_id=playbook.pk,
        playbook_name=playbook.name,
        user=user,
        action=action,
        old_content=old,
        new_content=new,
        new_sha256=sha256_text(new),
        changes_description=summary if summary is not None else change_summary(old, new),
        ip_address=ip_address or current_actor().ip_address,
    )


def playbook_create(
    *,
    name: str,
    description: str,
    content: str,
    user: User | None,
    ip_address: str | None = None,
    action: str = Action.CREATED,
) -> Playbook:
    """Store a new playbook (content already validated) with its first history entry.
    Raises NameTaken, with no file or row left behind, when the name is already in use, and
    NotSaved, with nothing written, when the file cannot be written."""
    file_path = storage.write(content)
    try:
        with transaction.atomic():
            playbook = Playbook.objects.create(
                name=name, description=description, file_path=file_path
            )
            _record(
                playbook,
                action,
                user=user,
                old="",
                new=content,
                ip_address=ip_address,
                summary=f"+{len(content.splitlines())} lines; {action}",
            )
    except BaseException as exc:
        storage.delete(file_path)
        if isinstance(exc, IntegrityError) and (taken := _name_taken(name)):
            raise taken from exc
        raise
    return playbook


def playbook_update(
    *,
    playbook: Playbook,
    user: User | None,
    content: str,
    base_sha256: str | None = None,
    base_fingerprint: str | None = None,
    name: str | None = None,
    description: str | None = None,
    action: str = Action.UPDATED,
    note: str = "",
) -> Playbook:
    """Save a new version of ``playbook``.

    ``base_fingerprint`` (``Playbook.edit_fingerprint``) is what an edit form started from:
    name, description and content. ``base_sha256`` is the sha256 of the content a replace
    started from (a replace changes nothing else). If the stored playbook differs from either,
    nothing is written and EditConflict carries what it is now. Saving the same content with
    only a new name or description still records an entry. Raises NotSaved when the file
    cannot be written (full or read-only disk): nothing changes.
    """
    new_path = storage.write(content)
    try:
        with transaction.atomic():
            locked = Playbook.objects.select_for_update().get(pk=playbook.pk)
            current = locked.read_content()
            stale_content = base_sha256 not in (None, sha256_text(current))
            stale_form = base_fingerprint not in (None, locked.edit_fingerprint(current))
            if stale_content or stale_form:
                raise EditConflict(locked, current)
            old_path = locked.file_path
            locked.file_path = new_path
            locked.audit_next_action = "RESTORE" if action == Action.RESTORED else None
            if name is not None:
                locked.name = name
            if description is not None:
                locked.description = description
            locked.save()
            summary = change_summary(current, content)
            _record(
                locked,
                action,
                user=user,
                old=current,
                new=content,
                summary=f"{note}; {summary}" if note else summary,
            )
            transaction.on_commit(lambda: storage.delete(old_path))
    except BaseException as exc:
        storage.delete(new_path)
        if (
            isinstance(exc, IntegrityError)
            and name is not None
            and (taken := _name_taken(name, exclude_pk=playbook.pk))
        ):
            raise taken from exc
        raise
    return locked


def playbook_set_active(*, playbook: Playbook, user: User | None, active: bool) -> Playbook:
    """Delete (``active=False``) or undelete a playbook. Deleting is soft: the row, its file, its
    jobs and its history stay; a deleted playbook can no longer run or be edited. Writes a
    ``deleted`` or ``undeleted`` version; nothing when the playbook is already in that state."""
    with transaction.atomic():
        locked = Playbook.objects.select_for_update().get(pk=playbook.pk)
        if locked.is_active == active:
            return locked
        locked.is_active = active
        locked.save(update_fields=["is_active", "updated_at"])
        content = locked.read_content()
        action = Action.UNDELETED if active else Action.DELETED
        _record(locked, action, user=user, old=content, new=content, summary=action)
    return locked


def playbook_restore(
    *, playbook: Playbook, version: PlaybookVersion, user: User | None
) -> Playbook:
    """Make ``version`` (one of this playbook's versions) the current content; writes a
    ``restored`` version."""
    return playbook_update(
        playbook=playbook,
        user=user,
        content=version.new_content,
        base_sha256=None,
        action=Action.RESTORED,
        note=f"restored version #{version.pk}",
    )
