"""Playbook files under settings.PLAYBOOKS_DIR.

Names are generated here (never taken from a user or an upload), content is written to a
temporary file in the same directory and renamed over the target, so a reader sees the old or
the new content, never half of it.
"""

import hashlib
import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings


class UnsafePath(ValueError):
    """A stored file_path that would resolve outside PLAYBOOKS_DIR."""


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
    """Write ``content`` atomically; returns the relative name (a new one if none given)."""
    file_path = file_path or new_name()
    target = resolve(file_path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".yml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return file_path


def read(file_path):
    try:
        return resolve(file_path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def delete(file_path):
    resolve(file_path).unlink(missing_ok=True)
