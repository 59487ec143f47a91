"""The sandbox every ``ansible-playbook`` runs in: bubblewrap around the command, a clean
environment, and an unprivileged user.

What a playbook can do on the controller (``hosts: localhost``, ``delegate_to``, lookups, a
``local`` connection) happens inside it, where it sees:
- the system read-only (``--ro-bind / /``), its own ``/proc`` (a new pid namespace: no other
  process and no other process's environment is visible), a minimal ``/dev``, a private ``/tmp``;
- nothing of the app: the checkout (with ``.env``), ``DATA_DIR``, the playbooks, the SSH keys,
  known_hosts, the SQLite file, the database and Redis socket directories, the worker's home and
  any path in ``RUNNER_SANDBOX_HIDE`` are covered by empty tmpfs mounts (files by ``/dev/null``);
  the Python environment that holds Ansible is bound back read-only, and nothing else of it;
- the job's own directory, read-write, which is also the run-as user's home;
- the network, shared: jobs reach their targets over SSH.

The process starts with only PATH, HOME, the locale and Ansible's own settings in its
environment. When the worker runs as root, the command inside runs as ``RUNNER_USER`` with no
capabilities; otherwise it runs as the worker's user (the mounts still hide the app).

``RUNNER_SANDBOX=off`` (development only, unsafe) runs the same command without bubblewrap; the
environment stays clean.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

BWRAP = "bwrap"
SETPRIV = "setpriv"
# Directories that hold database and broker sockets or files on common installs.
SERVICE_PATHS = (
    "/run/mysqld",
    "/var/run/mysqld",
    "/var/lib/mysql",
    "/run/postgresql",
    "/var/run/postgresql",
    "/var/lib/postgresql",
    "/run/redis",
    "/var/run/redis",
    "/var/lib/redis",
)
# Environment variables ansible-runner sets for its event callback; everything else that
# reaches the sandbox starts with ANSIBLE_.
RUNNER_VARIABLES = (
    "AWX_ISOLATED_DATA_DIR",
    "RUNNER_OMIT_EVENTS",
    "RUNNER_ONLY_FAILED_EVENTS",
    "ORIGINAL_STDOUT_CALLBACK",
    "AD_HOC_COMMAND_ID",
    "PYTHONUNBUFFERED",
)
INSTALL_HINT = (
    "Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; scripts/system-deps.sh does "
    "it) or, for development only, set RUNNER_SANDBOX=off."
)


class SandboxUnavailable(Exception):
    """The sandbox cannot start here; ``str()`` says why and what to do."""


def enabled() -> bool:
    return settings.RUNNER_SANDBOX != "off"


@dataclass(frozen=True)
class RunAs:
    """The OS account ansible-playbook runs as: ``uid is None`` means the worker's own."""

    uid: int | None
    gid: int | None
    home: Path | None
    name: str


def run_as() -> RunAs:
    """RUNNER_USER when the worker is root, else the worker's own user."""
    if os.geteuid() == 0 and enabled():
        try:
            entry = pwd.getpwnam(settings.RUNNER_USER)
        except KeyError as exc:
            raise SandboxUnavailable(
                f"The worker runs as root but RUNNER_USER {settings.RUNNER_USER!r} does not exist: "
                "create it (scripts/system-deps.sh does: useradd --system infra-runner) or set "
                "RUNNER_USER to an unprivileged account."
            ) from exc
        if entry.pw_uid == 0:
            raise SandboxUnavailable("RUNNER_USER must not be root.")
        return RunAs(entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), entry.pw_name)
    entry = pwd.getpwuid(os.geteuid())
    return RunAs(None, None, Path(entry.pw_dir), entry.pw_name)


def hand_over(path: Path) -> None:
    """Give ``path`` and everything below it to the run-as user (when it is not us)."""
    account = run_as()
    if account.uid is None:
        return
    for directory, dirs, files in os.walk(path):
        os.chown(directory, account.uid, account.gid)
        for name in dirs + files:
            os.chown(os.path.join(directory, name), account.uid, account.gid, follow_symlinks=False)


def python_paths() -> list[Path]:
    """The Python environment ansible-playbook runs from: the venv and the interpreter it
    links to (e.g. a pyenv install under the worker's home)."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent}
    real = sorted({Path(os.path.realpath(p)) for p in paths}, key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in real:
        if not _inside(path, kept):  # already visible through a parent bound before it
            kept.append(path)
    return kept


def _database_files() -> list[Path]:
    found = []
    for db in settings.DATABASES.values():
        name = str(db.get("NAME") or "")
        if db["ENGINE"].endswith("sqlite3") and name and name != ":memory:":
            found += [Path(name), Path(f"{name}-wal"), Path(f"{name}-shm")]
        host = str(db.get("HOST") or "")
        if host.startswith("/"):  # a unix socket's directory
            found.append(Path(host))
    return found


def hidden_paths() -> list[Path]:
    """Everything of the app the sandbox must not see (existing paths only)."""
    candidates = [
        settings.BASE_DIR,
        settings.DATA_DIR,
        settings.PLAYBOOKS_DIR,
        settings.PROJECTS_DIR,
        settings.SSH_KEYS_DIR,
        settings.SSH_KNOWN_HOSTS,
        Path(f"{settings.SSH_KNOWN_HOSTS}.lock"),
        Path.home(),
        *_database_files(),
        *map(Path, SERVICE_PATHS),
        *map(Path, settings.RUNNER_SANDBOX_HIDE),
    ]
    paths = []
    for candidate in candidates:
        path = Path(os.path.realpath(candidate))
        if path != Path("/") and path.exists() and path not in paths:
            paths.append(path)
    return paths


def _private_dirs() -> list[Path]:
    """Writable scratch directories every process expects, each a fresh tmpfs."""
    dirs = {Path("/tmp"), Path("/var/tmp"), Path(os.path.realpath(tempfile.gettempdir()))}  # noqa: S108
    return sorted(d for d in dirs if d.is_dir())


def _inside(path: Path, roots: Iterable[Path]) -> Path | None:
    for root in roots:
        if path == root or path.is_relative_to(root):
            return root
    return None


def bwrap_arguments(
    *,
    workdir: Path,
    home: Path | None,
    readonly: Sequence[Path] = (),
    writable: Sequence[Path] = (),
) -> list[str]:
    """The bubblewrap options for one run: mounts, namespaces, lifetime. ``readonly`` paths
    hidden above are shown again read-only; ``writable`` paths are bound read-write wherever
    they are (after the read-only ones, so a writable directory may sit inside a read-only
    one)."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--perms", "01777", "--tmpfs", "/dev/shm"]  # noqa: S108 - a private tmpfs
    covered: list[Path] = []
    for scratch in _private_dirs():
        args += ["--perms", "01777", "--tmpfs", str(scratch)]
        covered.append(scratch)
    # Parents before children, so a directory hidden inside another one is already covered.
    for path in sorted(hidden_paths(), key=lambda p: len(p.parts)):
        if _inside(path, covered):
            continue
        if path.is_dir():
            args += ["--perms", "0755", "--tmpfs", str(path)]
            covered.append(path)
        else:
            args += ["--ro-bind", "/dev/null", str(path)]

    def mount_point(path: Path) -> list[str]:
        # bwrap creates missing parents inside a tmpfs with mode 0700: make them traversable.
        made = []
        for parent in reversed(path.parents):
            if parent != Path("/") and _inside(parent, covered):
                made += ["--perms", "0755", "--dir", str(parent)]
        return made

    for path in python_paths() + [Path(os.path.realpath(p)) for p in readonly]:
        if _inside(path, covered) and path.exists():
            args += mount_point(path) + ["--ro-bind", str(path), str(path)]
    for path in [Path(os.path.realpath(p)) for p in writable]:
        args += mount_point(path) + ["--bind", str(path), str(path)]
    args += mount_point(workdir) + ["--bind", str(workdir), str(workdir)]
    if home is not None and home != workdir / "home":
        home_dir = workdir / "home"
        home_dir.mkdir(exist_ok=True)
        if home.exists() or _inside(home, covered):
            args += mount_point(home) + ["--bind", str(home_dir), str(home)]
    args += [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]
    return args


def wrap(
    command: Sequence[str],
    *,
    workdir: Path,
    cwd: Path | None = None,
    readonly: Sequence[Path] = (),
    writable: Sequence[Path] = (),
) -> list[str]:
    """``command`` as it runs in the sandbox, started in ``cwd`` (default ``workdir``), with
    stdin from /dev/null so nothing can wait for input. ``readonly`` and ``writable``: more
    paths it sees (see bwrap_arguments); the run-as account needs the rights to write the
    writable ones (hand_over)."""
    # The shell changes directory once it runs as the run-as account (bwrap itself has no
    # right to enter a directory that account owns with mode 0700).
    start = [
        "/bin/sh",
        "-c",
        'cd -- "$0" && exec "$@" </dev/null',
        str(cwd or workdir),
        *command,
    ]
    if not enabled():
        # No sandbox to die with the worker: at least ansible-playbook itself gets SIGKILL when
        # the worker process dies (its forked workers may outlive it: development only).
        return [SETPRIV, "--pdeathsig", "KILL", "--", *start] if shutil.which(SETPRIV) else start
    account = run_as()
    args = [
        BWRAP,
        *bwrap_arguments(workdir=workdir, home=account.home, readonly=readonly, writable=writable),
    ]
    if account.uid is None:
        return [*args, "--", *start]
    # bwrap runs as root to set up the mounts; the command drops to RUNNER_USER with no
    # capabilities left (not even in the bounding set) and no way to regain any.
    args += ["--cap-drop", "ALL"]
    for capability in ("CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"):
        args += ["--cap-add", capability]
    drop = [
        SETPRIV,
        f"--reuid={account.uid}",
        f"--regid={account.gid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
        "--",
    ]
    return [*args, "--", *drop, *start]


def environment(
    base: Mapping[str, str], *, workdir: Path, allow: Iterable[str] = ()
) -> dict[str, str]:
    """The clean environment: PATH, HOME, locale, Ansible's and the runner's own variables,
    and the variables of ``base`` named in ``allow`` (e.g. git's GIT_SSH_COMMAND)."""
    allowed = set(RUNNER_VARIABLES) | set(allow)
    env = {
        key: value for key, value in base.items() if key.startswith("ANSIBLE_") or key in allowed
    }
    account_home = None
    with contextlib.suppress(SandboxUnavailable):  # check() reports it; the run never starts
        account_home = run_as().home
    home = account_home if (enabled() and account_home) else workdir / "home"
    env.update(
        {
            "PATH": os.pathsep.join(
                [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
    )
    return env


def check() -> None:
    """Raise SandboxUnavailable unless a sandboxed command can start here. A success is
    remembered for the life of the process; a failure is tried again next time."""
    if not enabled():
        return
    account = run_as()
    key = (settings.RUNNER_USER, account.uid)
    if key in _PROBED:
        return
    if shutil.which(BWRAP) is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed. {INSTALL_HINT}")
    if account.uid is not None and shutil.which(SETPRIV) is None:
        raise SandboxUnavailable("setpriv (util-linux) is not installed.")
    if account.home is None or not account.home.is_dir():
        raise SandboxUnavailable(
            f"The home directory of {account.name} ({account.home}) does not exist: Ansible "
            "keeps its temporary files there (the sandbox puts the job's directory in its "
            "place). Create it (scripts/system-deps.sh does)."
        )
    with tempfile.TemporaryDirectory(prefix="sandbox-probe-") as tmp:
        workdir = Path(tmp)
        hand_over(workdir)
        try:
            done = subprocess.run(
                wrap(["true"], workdir=workdir),
                env=environment({}, workdir=workdir),
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SandboxUnavailable(f"bubblewrap could not start: {exc}. {INSTALL_HINT}") from exc
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip()[:500] or f"exit code {done.returncode}"
        raise SandboxUnavailable(f"bubblewrap could not start: {reason}. {INSTALL_HINT}")
    _PROBED.add(key)


_PROBED: set[tuple] = set()


def host_pid(inner_pid: int) -> int | None:
    """The pid, as this process sees it, of our descendant that the sandbox knows as
    ``inner_pid`` (ansible's events report pids from inside its pid namespace)."""
    parents: dict[int, int] = {}
    inner: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        pid = int(entry.name)
        parents[pid] = int(fields.get("PPid", "0").strip() or 0)
        ns_pids = fields.get("NSpid", "").split()
        if ns_pids:
            inner[pid] = int(ns_pids[-1])
    me = os.getpid()
    for pid, ns_pid in inner.items():
        if ns_pid != inner_pid or pid == me:
            continue
        ancestor = parents.get(pid)
        while ancestor:
            if ancestor == me:
                return pid
            ancestor = parents.get(ancestor)
    return None
