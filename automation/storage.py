"""Playbook files under settings.PLAYBOOKS_DIR.

Names are generated here (never taken from a user or an upload), content is written to a
temporary file in the same directory and renamed over the target, so a reader sees the old or
the new content, never half of it.
"""

import contextlib
import errno
import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings


class UnsafePath(ValueError):
    """A stored file_path that would resolve outside PLAYBOOKS_DIR."""


class NotSaved(Exception):
    """The file could not be written (a full or read-only disk, missing rights, a path that is
    not a directory); ``str()`` says why in words a person acts on. Nothing was written."""


# What an errno means for the person saving, beyond the system's own short text.
_WRITE_PROBLEMS = {
    errno.EROFS: "is on a read-only file system",
    errno.ENOSPC: "is on a full disk",
    errno.EDQUOT: "is over its disk quota",
    errno.EACCES: "is not writable by the app's user",
    errno.EPERM: "does not allow writing (permissions or an immutable flag)",
    errno.ENOTDIR: "is not a directory (a part of its path is a file)",
    errno.ENOENT: "does not exist and cannot be created",
}


def root():
    path = Path(settings.PLAYBOOKS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def resolve(file_path):
    """Absolute path of a stored playbook name, refusing anything outside PLAYBOOKS_DIR."""
    base = root()
    path = (base / file_path).resolve()
    if not path.is_relative_to(base) or path == base:
        raise UnsafePath(f"{file_path!r} is outside the playbooks directory")
    return path


def sha256_text(text):
    """The version key of a playbook's text: jobs store it, history rows are keyed by it."""
    return hashlib.sha256(text.encode()).hexdigest()


def new_name():
    return f"playbook-{uuid.uuid4().hex}.yml"


def write(content, file_path=None):
    """Write ``content`` atomically; returns the relative name (a new one if none given).
    Raises NotSaved, leaving nothing behind, when the directory cannot take the file."""
    file_path = file_path or new_name()
    try:
        target = resolve(file_path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".yml")
    except OSError as exc:
        raise _not_saved(exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _not_saved(exc) from exc
        raise
    return file_path


def _not_saved(exc):
    problem = _WRITE_PROBLEMS.get(exc.errno, "cannot take the file")
    reason = exc.strerror or type(exc).__name__
    return NotSaved(
        f"The playbook could not be saved: the playbooks directory {settings.PLAYBOOKS_DIR} "
        f"{problem} ({reason}). Nothing was changed."
    )


def read(file_path):
    """The file's text; '' when it is missing (``exists`` tells the two apart)."""
    try:
        return resolve(file_path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def exists(file_path):
    return resolve(file_path).is_file()


def delete(file_path):
    resolve(file_path).unlink(missing_ok=True)
