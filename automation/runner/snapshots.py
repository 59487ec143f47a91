"""What a project snapshot is made of, below the commands that fetch it: writing files from a
tar or zip archive without ever leaving the directory, checking the links of a tree git wrote,
sealing the result read-only, removing it, and reading what it holds (its ansible.cfg paths,
its playbooks).

automation/runner/sources.py is the interface the rest of the app calls; it re-exports the
public names here. No subprocess and no Ansible import: pure file work.
"""

import configparser
import contextlib
import os
import posixpath
import re
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

import yaml
from django.conf import settings

Cancelled = Callable[[], bool]

POLL_SECONDS = 0.2
CHUNK = 1024 * 1024
PLAYBOOK_FILE_MAX_BYTES = 1024 * 1024
REQUIREMENTS_DIR = ".requirements"
# Ansible's own defaults, kept after ours so nothing a job could find before is hidden.
DEFAULT_ROLES_PATH = ("~/.ansible/roles", "/usr/share/ansible/roles", "/etc/ansible/roles")
DEFAULT_COLLECTIONS_PATH = ("~/.ansible/collections", "/usr/share/ansible/collections")


class SyncError(Exception):
    """A sync cannot go on; str() is a clear message for a person (no traceback, no secrets)."""


class SyncCancelled(SyncError):
    """Someone cancelled the sync."""


class Tree:
    """Writes members below ``root``, refusing anything that would leave it, and counts them.

    Nothing is ever written through a link: each parent directory is checked to be a real
    directory (lstat), files are created with O_EXCL|O_NOFOLLOW, and links are created as they
    come but checked at the end (``finish``) by resolving them, chains included."""

    def __init__(self, root: Path, kind: str, tick: Callable[[], None] = lambda: None):
        self.root, self.kind, self.tick = root, kind, tick
        self.files = self.bytes = 0
        self.dirs: set[str] = {""}
        self.regular: set[str] = set()
        self.links: dict[str, str] = {}

    def refuse(self, name: str, why: str) -> SyncError:
        return SyncError(f"Refused: the {self.kind} member {name!r} {why}.")

    def count(self) -> None:
        self.tick()
        self.files += 1
        if self.files > settings.PROJECT_MAX_FILES:
            raise SyncError(
                f"Refused: the {self.kind} holds more than {settings.PROJECT_MAX_FILES} files "
                "(PROJECT_MAX_FILES)."
            )

    def relative(self, name: str) -> str:
        if name.startswith("/") or re.match(r"[A-Za-z]:[\\/]", name):
            raise self.refuse(name, "has an absolute path")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise self.refuse(name, "climbs out of the project with '..'")
        return "/".join(parts)

    def place(self, name: str) -> tuple[str, Path]:
        """The member's relative path and its place on disk, parents made and checked."""
        rel = self.relative(name)
        if not rel:
            raise self.refuse(name, "has an empty name")
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in self.dirs:
                continue
            path = self.root / prefix
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                path.mkdir()
            else:
                if not stat.S_ISDIR(mode):
                    raise self.refuse(name, "lies inside a link or a file")
            self.dirs.add(prefix)
        path = self.root / rel
        if rel not in self.dirs and os.path.lexists(path):
            raise self.refuse(name, "appears twice")
        return rel, path

    def directory(self, name: str) -> None:
        self.count()
        if not self.relative(name):
            return
        rel, path = self.place(name)
        if rel not in self.dirs:
            path.mkdir()
            self.dirs.add(rel)

    def file(self, name: str, data: IO[bytes] | None, executable: bool) -> None:
        self.count()
        rel, path = self.place(name)
        if rel in self.dirs:
            raise self.refuse(name, "appears twice")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(path, flags, 0o755 if executable else 0o644), "wb") as out:
            while data is not None and (chunk := data.read(CHUNK)):
                self.bytes += len(chunk)
                if self.bytes > settings.PROJECT_MAX_BYTES:
                    raise SyncError(
                        f"Refused: the {self.kind} unpacks to more than "
                        f"{settings.PROJECT_MAX_BYTES} bytes (PROJECT_MAX_BYTES)."
                    )
                out.write(chunk)
                self.tick()
        self.regular.add(rel)

    def symlink(self, name: str, target: str) -> None:
        self.count()
        rel, path = self.place(name)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
        if not target or target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise self.refuse(name, f"is a link pointing outside the project ({target!r})")
        if rel in self.dirs:
            raise self.refuse(name, "appears twice")
        os.symlink(target, path)
        self.links[rel] = name

    def hardlink(self, name: str, target: str) -> None:
        self.count()
        parts = [p for p in target.split("/") if p not in ("", ".")]
        source = "/".join(parts)
        if target.startswith("/") or ".." in parts or source not in self.regular:
            raise self.refuse(name, f"is a hard link to something outside the project ({target!r})")
        rel, path = self.place(name)
        os.link(self.root / source, path, follow_symlinks=False)
        self.regular.add(rel)

    def strip_single_top(self) -> None:
        """Move a single top-level directory's contents up (GitHub-style archives)."""
        entries = os.listdir(self.root)
        top = self.root / entries[0] if len(entries) == 1 else None
        if top is None or top.is_symlink() or not top.is_dir():
            return
        moved = self.root.parent / f".{self.root.name}.{os.getpid()}.strip"
        os.rename(top, moved)
        os.rmdir(self.root)
        os.rename(moved, self.root)
        self.links = {rel.split("/", 1)[1]: name for rel, name in self.links.items()}

    def finish(self) -> None:
        """Refuse any link that, resolved through every other link, leaves the tree."""
        root = os.path.realpath(self.root)
        for rel, name in self.links.items():
            real = os.path.realpath(self.root / rel)
            if real != root and not real.startswith(root + os.sep):
                target = os.readlink(self.root / rel)
                raise self.refuse(name, f"is a link pointing outside the project ({target!r})")


def check_links(root: Path, kind: str) -> tuple[int, int]:
    """Refuse any link below ``root`` that, resolved, leaves it, and anything but files,
    directories and links; returns the number of files and their bytes."""
    top = os.path.realpath(root)
    files = size = 0
    for directory, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                real = os.path.realpath(path)
                if real != top and not real.startswith(top + os.sep):
                    raise SyncError(
                        f"Refused: the {kind} member {rel!r} is a link pointing outside the "
                        f"project ({os.readlink(path)!r})."
                    )
            elif stat.S_ISREG(info.st_mode):
                files += 1
                size += info.st_size
            elif not stat.S_ISDIR(info.st_mode):
                raise SyncError(f"Refused: the {kind} member {rel!r} is not a file.")
    return files, size


def unpack_tar(archive: tarfile.TarFile, tree: Tree) -> None:
    for member in archive:
        name = member.name
        if member.isdir():
            tree.directory(name)
        elif member.isreg():
            tree.file(name, archive.extractfile(member), bool(member.mode & 0o111))
        elif member.issym():
            tree.symlink(name, member.linkname)
        elif member.islnk():
            tree.hardlink(name, member.linkname)
        elif member.ischr() or member.isblk() or member.isfifo():
            raise tree.refuse(name, "is a device file or a fifo")
        else:
            raise tree.refuse(name, "has a type that cannot be unpacked")


def unpack_zip(archive: zipfile.ZipFile, tree: Tree) -> None:
    for info in archive.infolist():
        name = info.filename
        if name.startswith("__MACOSX/"):
            continue  # macOS resource forks, never part of a project
        if info.flag_bits & 0x1:
            raise tree.refuse(name, "is encrypted")
        mode = info.external_attr >> 16 if info.create_system == 3 else 0
        if stat.S_ISLNK(mode):
            with archive.open(info) as data:
                target = data.read(4097).decode("utf-8", "replace")
            tree.symlink(name, target)
        elif stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise tree.refuse(name, "is a device file or a fifo")
        elif info.is_dir():
            tree.directory(name)
        else:
            with archive.open(info) as data:
                tree.file(name, data, bool(mode & 0o111))


def seal(root: Path) -> None:
    """Make ``root`` read-only for everyone but readable: owned by the worker, files 0444 (0555
    when executable), directories 0555; links are left as they are."""
    chown = os.geteuid() == 0
    uid, gid = os.geteuid(), os.getegid()
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if chown and (info.st_uid, info.st_gid) != (uid, gid):
                os.chown(path, uid, gid, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                os.chmod(path, 0o555)  # noqa: S103 - read-only on purpose
            elif stat.S_ISREG(info.st_mode):
                os.chmod(path, 0o555 if info.st_mode & 0o111 else 0o444)
    if chown:
        os.chown(root, uid, gid)
    os.chmod(root, 0o555)  # noqa: S103 - read-only on purpose


def snapshot_remove(root: Path) -> None:
    """Remove a snapshot, sealed or half-written (its directories are read-only)."""
    if not os.path.lexists(root):
        return
    if root.is_dir() and not root.is_symlink():
        for directory, _dirs, _files in os.walk(root):
            with contextlib.suppress(OSError):
                os.chmod(directory, 0o755)  # noqa: S103 - to delete its entries
        shutil.rmtree(root)
    else:
        root.unlink()


@contextlib.contextmanager
def writable(directory: Path) -> Iterator[None]:
    """Let this process add an entry to a sealed directory (root needs no such thing)."""
    mode = stat.S_IMODE(directory.stat().st_mode)
    os.chmod(directory, mode | 0o700)
    try:
        yield
    finally:
        os.chmod(directory, mode)


class _AnsibleLoader(yaml.SafeLoader):
    """SafeLoader that reads Ansible's own tags as plain values."""


def _plain(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("!unsafe", "!vault", "!vault-encrypted"):
    _AnsibleLoader.add_constructor(_tag, _plain)


def load_yaml(path: Path) -> object:
    return yaml.load(path.read_text("utf-8"), Loader=_AnsibleLoader)  # noqa: S506 - safe subclass


def inside(path: Path, root: Path) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top + os.sep)


def _cfg_paths(snapshot: Path, keys: Sequence[str]) -> list[str]:
    """The paths ansible.cfg's [defaults] names under ``keys``, relative ones resolved against
    the file's directory, as Ansible does."""
    cfg = snapshot / "ansible.cfg"
    if not cfg.is_file():
        return []
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",), strict=False)
    try:
        parser.read_string(cfg.read_text("utf-8"))
    except (configparser.Error, UnicodeDecodeError, OSError):
        return []
    for key in keys:
        value = parser.get("defaults", key, fallback="").strip()
        if value:
            paths = [p.strip() for p in value.split(os.pathsep) if p.strip()]
            return [
                p if p.startswith(("/", "~", "$")) else os.path.normpath(snapshot / p)
                for p in paths
            ]
    return []


def run_environment(snapshot: Path) -> dict[str, str]:
    """ANSIBLE_* variables a job running inside this snapshot needs so the installed
    requirements are found WITHOUT hiding the project's own settings: ANSIBLE_ROLES_PATH and
    ANSIBLE_COLLECTIONS_PATH that put .requirements/... first, then whatever the snapshot's
    ansible.cfg ([defaults] roles_path / collections_path(s), resolved relative to the cfg's
    directory) names, then Ansible's defaults. Empty dict entries omitted when nothing was
    installed and no cfg."""
    env = {}
    for variable, installed, keys, defaults in (
        ("ANSIBLE_ROLES_PATH", "roles", ("roles_path",), DEFAULT_ROLES_PATH),
        (
            "ANSIBLE_COLLECTIONS_PATH",
            "collections",
            ("collections_path", "collections_paths"),
            DEFAULT_COLLECTIONS_PATH,
        ),
    ):
        ours = snapshot / REQUIREMENTS_DIR / installed
        configured = _cfg_paths(snapshot, keys)
        if not ours.is_dir() and not configured:
            continue
        paths = ([str(ours)] if ours.is_dir() else []) + configured + list(defaults)
        env[variable] = os.pathsep.join(dict.fromkeys(paths))
    return env


PLAY_KEYS = {
    "hosts",
    "import_playbook",
    "ansible.builtin.import_playbook",
    "ansible.legacy.import_playbook",
}
NOT_PLAYBOOK_DIRS = {"roles", "collections", "group_vars", "host_vars", "tasks", "handlers",
                     "vars", "defaults", "templates", "files", "meta"}  # fmt: skip


def _is_playbook(path: Path) -> bool:
    try:
        if path.stat().st_size > PLAYBOOK_FILE_MAX_BYTES:
            return False
        data = load_yaml(path)
    except (yaml.YAMLError, UnicodeDecodeError, OSError, RecursionError):
        return False
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(item, dict) and PLAY_KEYS & set(item) for item in data)
    )


def discover_playbooks(snapshot: Path) -> list[str]:
    """Relative paths (posix, sorted) of the YAML files (.yml/.yaml) at the top level and in a
    `playbooks/` directory whose document is a non-empty list in which every item is a mapping
    with `hosts` or `import_playbook` (or ansible.builtin.import_playbook). Skip requirements files,
    roles/, .requirements/, hidden dirs, files over 1 MiB, and files that do not parse (use a
    yaml.SafeLoader subclass that accepts Ansible's tags !unsafe, !vault, !vault-encrypted as plain
    scalars).

    ``playbooks/`` is searched below too, except hidden directories and those that hold roles,
    collections, variables or task files; links leaving the snapshot are never read."""
    candidates = [p for p in snapshot.iterdir() if p.is_file()]
    top = snapshot / "playbooks"
    if top.is_dir() and not top.is_symlink():
        for directory, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d not in NOT_PLAYBOOK_DIRS]
            candidates += [Path(directory, name) for name in files]
    found = []
    for path in candidates:
        if (
            path.suffix in (".yml", ".yaml")
            and not path.name.startswith(".")
            and path.stem != "requirements"
            and inside(path, snapshot)
            and _is_playbook(path)
        ):
            found.append(path.relative_to(snapshot).as_posix())
    return sorted(found)
