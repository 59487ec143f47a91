"""SSH private keys servers may use: files inside settings.SSH_KEYS_DIR, nowhere else."""

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

# Linux limits: one file or directory name, and a whole path, in bytes.
NAME_MAX = 255
PATH_MAX = 4096


def keys_dir():
    return Path(settings.SSH_KEYS_DIR).resolve()


def resolve_key_path(value):
    """The absolute, real path of key ``value`` (relative to SSH_KEYS_DIR, or absolute inside
    it). Raises ValidationError when it escapes the directory (``..``, a symlink pointing out,
    ``/etc/...``), does not exist, is not a regular file or cannot be read."""
    value = (value or "").strip()
    if not value:
        raise ValidationError("Choose a key file.")
    if "\x00" in value:
        raise ValidationError("The key path contains a NUL byte.")
    base = keys_dir()
    candidate = Path(value)
    if not candidate.is_absolute():
        candidate = base / candidate
    # Checked before the filesystem sees it: a longer name fails there with ENAMETOOLONG.
    too_long = [part for part in candidate.parts if len(part.encode()) > NAME_MAX]
    if too_long or len(str(candidate).encode()) > PATH_MAX:
        raise ValidationError(
            f"The key path is too long: at most {NAME_MAX} bytes per name and {PATH_MAX} in all."
        )
    try:
        real = Path(os.path.realpath(candidate))
        if not real.is_relative_to(base) or real == base:
            raise ValidationError(f"The key must be a file inside {base}.")
        if not real.exists():
            raise ValidationError(f"No key file {value!r} in {base}.")
        if not real.is_file():
            raise ValidationError(f"{value!r} is not a regular file.")
        if not os.access(real, os.R_OK):
            raise ValidationError(f"The key file {value!r} is not readable by the app.")
    except OSError as exc:
        # Whatever else the filesystem refuses (a symlink loop, a name too long once a
        # symlink is followed) is a message about the path, not a server error.
        raise ValidationError(f"The key path cannot be used: {exc.strerror}.") from exc
    return real
