"""Project sources: turn a git repository or an uploaded archive into a snapshot directory.

A snapshot is a directory holding a project's files at one revision, plus the Galaxy roles and
collections its requirements files name (in ``.requirements/``). It is sealed once written:
owned by the worker, files 0444 (0555 when executable), directories 0555, so a job running as
RUNNER_USER can read it and never change it.

Every ``git`` and ``ansible-galaxy`` runs in the sandbox (automation/runner/sandbox.py) as the
run-as account, seeing only the directories it needs: the bare cache it fetches into, the
snapshot it writes or reads, a scratch directory with its home and, for ssh, a copy of the key.
A git tree is measured before git writes it; uploaded archives are unpacked here by Python,
which refuses anything that would leave the snapshot (absolute names, ``..``, links pointing
out, device files) and counts files and bytes as it writes them (PROJECT_MAX_FILES,
PROJECT_MAX_BYTES).

The file work (unpacking, sealing, reading a snapshot) is in automation/runner/snapshots.py;
this module runs the commands and is the interface the rest of the app calls. Worker only:
nothing here imports Ansible. Every function reports one console line at a time
to ``log`` (the commands it runs as ``$ git ...``, then their output), with credentials cut out
of URLs; errors are ``SyncError`` with a message for a person.
"""

import contextlib
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from django.conf import settings

from automation.runner import sandbox
from automation.runner.snapshots import (
    POLL_SECONDS,
    REQUIREMENTS_DIR,
    Cancelled,
    SyncCancelled,
    SyncError,
    Tree,
    check_links,
    discover_playbooks,
    inside,
    load_yaml,
    run_environment,
    seal,
    snapshot_remove,
    unpack_tar,
    unpack_zip,
    writable,
)

__all__ = [
    "Cancelled",
    "Log",
    "SyncCancelled",
    "SyncError",
    "archive_unpack",
    "discover_playbooks",
    "git_export",
    "git_fetch",
    "requirements_install",
    "run_environment",
    "snapshot_remove",
]

Log = Callable[[str], None]

GIT = "git"
CHUNK = 1024 * 1024
HEX = re.compile(r"[0-9a-f]{4,64}")
FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
URL_CREDENTIALS = re.compile(
    r"(?i)\b(https?|ftps?)://[^/@\s]*@|\b([a-z][a-z0-9+.-]*://[^/:@\s]*):[^/@\s]*@"
)
# Configuration every git here runs with, as its "global" file in the scratch directory (git
# clears GIT_CONFIG_PARAMETERS/-c for the upload-pack of a local source, but reads this file):
# the cache belongs to the run-as account and local sources to anyone; no hooks, no credential
# helper; the system's configuration is not read.
GIT_CONFIG = {
    "safe.directory": "*",
    "core.hooksPath": "/dev/null",
    "credential.helper": "",
    "http.lowSpeedLimit": "1000",
    "http.lowSpeedTime": "60",
}


def redact(text: str) -> str:
    """``text`` with credentials cut out of URLs: the whole user part of http(s) URLs (tokens
    often stand in for the user name), the password of any other."""
    return URL_CREDENTIALS.sub(
        lambda m: f"{m.group(1)}://" if m.group(1) else f"{m.group(2)}@", text
    )


# ---------------------------------------------------------------------------------------------
# Running sandboxed commands


def _sandbox_ready() -> None:
    try:
        sandbox.check()
    except sandbox.SandboxUnavailable as exc:
        raise SyncError(str(exc)) from None


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    """A private directory the sandboxed command owns: its home, and the ssh key's copy."""
    workdir = Path(tempfile.mkdtemp(prefix="sync-"))
    try:
        (workdir / "home").mkdir()
        sandbox.hand_over(workdir)
        yield workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _kill(process: subprocess.Popen) -> None:
    """SIGKILL the process group; the sandbox's pid namespace takes everything else with it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return redact(text.rsplit("\r", 1)[-1])  # progress meters rewrite their line with \r


def _run(
    argv: Sequence[str],
    *,
    shown: str,
    log: Log,
    cancelled: Cancelled,
    deadline: float,
    timeout: int,
    what: str,
    workdir: Path,
    env: dict[str, str],
    cwd: Path | None = None,
    readonly: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    echo: bool = True,
    keep: int | None = 60,
) -> tuple[int, list[str]]:
    """Run ``argv`` in the sandbox, sending its output lines to ``log`` (when ``echo``) as they
    come. Returns the exit code and its last ``keep`` lines (None: all). Cancel and ``deadline``
    kill it (checked every POLL_SECONDS); a timeout says "``what`` did not finish within
    ``timeout`` s"."""
    log(f"$ {shown}")
    process = subprocess.Popen(
        sandbox.wrap(argv, workdir=workdir, cwd=cwd, readonly=readonly, writable=writable),
        env=sandbox.environment(env, workdir=workdir, allow=env.keys()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=keep)
    lines: deque[str] = deque()
    reader = threading.Thread(
        target=lambda: lines.extend(_line(raw) for raw in process.stdout or ()), daemon=True
    )
    reader.start()
    try:
        while True:
            reader.join(POLL_SECONDS)
            while lines:
                line = lines.popleft()
                tail.append(line)
                if echo:
                    log(line)
            if not reader.is_alive() and process.poll() is not None:
                break
            if cancelled():
                raise SyncCancelled("Cancelled.")
            if time.monotonic() > deadline:
                raise SyncError(f"{what} did not finish within {timeout} s")
    except BaseException:
        _kill(process)
        reader.join(2)
        raise
    return process.returncode, list(tail)


# ---------------------------------------------------------------------------------------------
# Git


def _local_source(path: str) -> Path:
    real = Path(os.path.realpath(path))
    for hidden in sandbox.hidden_paths():
        if real == hidden or real.is_relative_to(hidden):
            raise SyncError(f"A repository inside the app's own files cannot be a source: {path}")
    if not real.exists():
        raise SyncError(f"Repository not found: {path} does not exist.")
    return real


def _check_url(url: str) -> Path | None:
    """Refuse what is not an https, ssh, scp-like, file:// URL or an absolute path; returns the
    local path a file source needs bound into the sandbox."""
    if not url or url != url.strip() or any(c in url for c in "\0\r\n"):
        raise SyncError("The repository URL is empty or holds spaces or control characters.")
    if url.startswith("-"):
        raise SyncError("A repository URL cannot start with '-'.")
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme:
        name = scheme.group(1).lower()
        if name in ("https", "ssh"):
            return None
        if name == "file":
            return _local_source(unquote(urlsplit(url).path))
        raise SyncError(
            f"Unsupported repository URL scheme {name}://: use https://, ssh://, "
            "user@host:path, file:// or an absolute path."
        )
    if url.startswith("/"):
        return _local_source(url)
    if "::" not in url and re.match(r"[^/:]+:", url):
        return None  # scp-like user@host:path
    raise SyncError(
        f"Not a repository URL: {redact(url)} (use https://, ssh://, user@host:path, file:// "
        "or an absolute path)."
    )


def _check_ref(ref: str) -> None:
    bad = (
        ref.startswith(("-", "/"))
        or ref.endswith(("/", ".", ".lock"))
        or any(part in ref for part in ("..", "@{", "//"))
        or any(c in ref for c in " ~^:?*[\\\x7f")
        or any(ord(c) < 32 for c in ref)
    )
    if bad:
        raise SyncError(f"{ref!r} is not a valid branch, tag or commit name.")


def _git_env(workdir: Path, ssh_options: str) -> dict[str, str]:
    config = workdir / "gitconfig"
    config.write_text(
        "".join(f"[{key.rsplit('.', 1)[0]}]\n\t{key.rsplit('.', 1)[1]} = {value}\n"
                for key, value in GIT_CONFIG.items())
    )  # fmt: skip
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_ASKPASS": "",
        "GIT_ALLOW_PROTOCOL": "file:https:ssh",
        "GIT_SSH_COMMAND": f"ssh {ssh_options}",
    }


def _askpass(workdir: Path, user: str, token: str) -> Path:
    """A GIT_ASKPASS helper in the fetch's scratch directory: git asks it for the https user
    and password and it answers from 0600 files beside it, so the token is never in the URL,
    the command line, the environment or the log."""
    account = sandbox.run_as()
    files = {"askpass_user": user, "askpass_token": token}
    for name, value in files.items():
        fd = os.open(workdir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(value)
        if account.uid is not None and account.gid is not None:
            os.chown(workdir / name, account.uid, account.gid)
    helper = workdir / "askpass"
    helper.write_text(
        "#!/bin/sh\n"
        f'case "$1" in Username*) cat {shlex.quote(str(workdir / "askpass_user"))};; '
        f"*) cat {shlex.quote(str(workdir / 'askpass_token'))};; esac\n"
    )
    helper.chmod(0o755)
    return helper


def _ssh_options(workdir: Path, cache: Path, key_file: Path | None) -> str:
    """ssh's options: never a prompt, the project's own known_hosts (kept beside the cache,
    pinned on first contact) and the key's private copy in the scratch directory."""
    options = [
        "-o BatchMode=yes",
        "-o StrictHostKeyChecking=accept-new",
        f"-o UserKnownHostsFile={shlex.quote(str(cache / 'ssh_known_hosts'))}",
        "-o ConnectTimeout=20",
        "-o ServerAliveInterval=15",
        "-o ServerAliveCountMax=4",
    ]
    if key_file is not None:
        copy = workdir / "ssh_key"
        try:
            with open(key_file, "rb") as source:
                fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as target:
                    shutil.copyfileobj(source, target)
        except OSError:
            raise SyncError("The project's SSH key cannot be read.") from None
        account = sandbox.run_as()
        if account.uid is not None and account.gid is not None:
            os.chown(copy, account.uid, account.gid)  # ssh reads only its owner's keys
        options += [f"-i {shlex.quote(str(copy))}", "-o IdentitiesOnly=yes"]
    return " ".join(options)


@contextlib.contextmanager
def _cache_lock(cache: Path, cancelled: Cancelled, deadline: float) -> Iterator[None]:
    """One sync at a time per cache (a second waits, still cancellable)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / f"{cache.name}.lock", "w") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if cancelled():
                    raise SyncCancelled("Cancelled.") from None
                if time.monotonic() > deadline:
                    raise SyncError("Another sync of this project did not finish.") from None
                time.sleep(POLL_SECONDS)
        yield


def _fetch_failure(url: str, ref: str, tail: list[str]) -> str:
    said = [
        line.strip()
        for line in tail
        if line.strip() and "PRIVATE KEY" not in line and not line.startswith("Warning: Perm")
    ]
    text = " ".join(said)
    checks = [
        (
            (
                "Permission denied",
                "Authentication failed",
                "could not read Username",
                "could not read Password",
                "terminal prompts disabled",
                "Invalid username",
            ),
            f"authentication to {url} failed: check the project's credentials or SSH key",
        ),
        (
            ("Host key verification failed", "HOST IDENTIFICATION HAS CHANGED"),
            f"the SSH host key of {url} does not match the one recorded for this project",
        ),
        (
            (
                "Could not resolve host",
                "Could not resolve hostname",
                "Connection refused",
                "Connection timed out",
                "Network is unreachable",
                "No route to host",
                "Connection closed",
                "Failed to connect",
                "Couldn't connect",
                "Connection reset",
            ),
            f"cannot reach {url}",
        ),
        (
            ("couldn't find remote ref HEAD",),
            f"{url} has no default branch: give a branch, tag or commit",
        ),
        (
            (
                "does not appear to be a git repository",
                "not found",
                "No such file",
                "not a git repository",
            ),
            f"repository {url} not found or not readable",
        ),
    ]
    summary = next(
        (message for needles, message in checks if any(n in text for n in needles)),
        f"git fetch from {url} failed",
    )
    details = "; ".join(said[-4:])[:600]
    return f"Cannot fetch: {summary}." + (f" git said: {details}" if details else "")


def git_fetch(
    *,
    url: str,
    ref: str,
    cache: Path,
    log: Log,
    cancelled: Cancelled,
    key_file: Path | None = None,
    token: tuple[str, str] | None = None,
    timeout: int = 600,
) -> str:
    """Create (first time: `git init --bare`) or update the bare cache repository `cache` for `url`
    and return the full commit SHA that `ref` names (branch, tag, full or abbreviated SHA; empty
    ref = the remote's default branch). Raise SyncError for an unreachable/unknown repository, a ref
    that does not exist ("branch or tag 'x' not found in <url>"), auth failure, timeout.

    Every fetch brings all branches (as refs/remotes/origin/*) and tags, so any ref resolves in
    the cache and the next fetch sends only what is new; a commit no branch or tag reaches is
    asked for by its full SHA."""
    ref = ref.strip()
    shown = redact(url)
    local = _check_url(url)
    if ref:
        _check_ref(ref)
    _sandbox_ready()
    deadline = time.monotonic() + timeout
    with _cache_lock(cache, cancelled, deadline), _scratch() as workdir:
        env = _git_env(workdir, _ssh_options(workdir, cache, key_file))
        if token is not None:
            env["GIT_ASKPASS"] = str(_askpass(workdir, *token))

        def git(args: list[str], display: str, echo: bool = True) -> tuple[int, list[str]]:
            return _run(
                [GIT, *args], shown=display, log=log, cancelled=cancelled, deadline=deadline,
                timeout=timeout, what="git fetch", workdir=workdir, env=env, cwd=cache,
                readonly=[local] if local else [], writable=[cache], echo=echo,
            )  # fmt: skip

        def resolve(candidates: list[str]) -> str | None:
            for candidate in candidates:
                code, out = git(
                    ["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"],
                    f"git rev-parse --verify {candidate}^{{commit}}",
                    echo=False,
                )
                if code == 0 and out and FULL_SHA.fullmatch(out[-1].strip()):
                    return out[-1].strip()
            return None

        if not (cache / "HEAD").is_file():
            cache.mkdir(exist_ok=True)
            sandbox.hand_over(cache)
            if git(["init", "--bare", "--quiet", "."], "git init --bare")[0]:
                raise SyncError("Cannot create the project's git cache.")
        elif sandbox.run_as().uid not in (None, cache.stat().st_uid):
            sandbox.hand_over(cache)  # RUNNER_USER changed since the cache was made
        refspecs = ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]
        if not ref:
            refspecs.insert(0, "+HEAD:refs/sync/HEAD")
        fetch = ["fetch", "--prune", "--no-tags", "--", url, *refspecs]
        code, tail = git(fetch, f"git fetch --prune {shown} {' '.join(refspecs)}")
        if code:
            raise SyncError(_fetch_failure(shown, ref, tail))
        if not ref:
            candidates = ["refs/sync/HEAD"]
        elif ref.startswith("refs/heads/"):
            candidates = ["refs/remotes/origin/" + ref.removeprefix("refs/heads/")]
        elif ref.startswith("refs/"):
            candidates = [ref]
        else:
            candidates = [f"refs/remotes/origin/{ref}", f"refs/tags/{ref}"]
        if ref and HEX.fullmatch(ref):
            candidates.append(ref)
        revision = resolve(candidates)
        if revision is None and FULL_SHA.fullmatch(ref):
            # A commit no branch or tag reaches: servers that allow it send it by its id.
            fetched = git(["fetch", "--no-tags", "--", url, ref], f"git fetch {shown} {ref}")
            revision = resolve([ref]) if fetched[0] == 0 else None
        if revision is not None:
            log(f"{ref or 'The default branch'} is {revision}")
            return revision
        if HEX.fullmatch(ref):
            raise SyncError(f"branch, tag or commit '{ref}' not found in {shown}")
        raise SyncError(f"branch or tag '{ref}' not found in {shown}")


def git_export(
    *,
    cache: Path,
    revision: str,
    dest: Path,
    log: Log,
    cancelled: Cancelled = lambda: False,
    timeout: int = 600,
) -> None:
    """Write the tree at `revision` into the new directory `dest` (no .git inside). Symlinks that
    point outside the tree (absolute, or escaping with ..) are refused with SyncError; submodules
    may be ignored with a log line.

    The tree is measured first (``git ls-tree``: sizes from git's own objects, so a repository
    past PROJECT_MAX_FILES or PROJECT_MAX_BYTES is refused before anything is written), then git
    writes it (``read-tree -u`` into a private index, as a clone's checkout would) in the sandbox,
    as the run-as account, where ``dest`` is the only writable place. Links are then checked,
    and ``dest`` sealed; on any error it is removed."""
    if not FULL_SHA.fullmatch(revision):
        raise SyncError(f"{revision!r} is not a full commit id.")
    _sandbox_ready()
    deadline = time.monotonic() + timeout
    _new_directory(dest)
    try:
        with _scratch() as workdir:
            env = {**_git_env(workdir, ""), "GIT_INDEX_FILE": str(workdir / "index")}

            def git(args: list[str], echo: bool = True, keep: int | None = 60) -> list[str]:
                code, out = _run(
                    [GIT, f"--git-dir={cache}", f"--work-tree={dest}", *args],
                    shown=f"git {' '.join(args)}", log=log, cancelled=cancelled,
                    deadline=deadline, timeout=timeout, what="git export", workdir=workdir,
                    env=env, cwd=dest, readonly=[cache], writable=[dest], echo=echo, keep=keep,
                )  # fmt: skip
                if code:
                    said = "; ".join(line for line in out[-4:] if line.strip())[:600]
                    raise SyncError(f"Cannot export {revision}: git said: {said}")
                return out

            listing = git(["ls-tree", "-r", "-t", "-l", "--full-tree", revision], False, None)
            _check_tree_size(listing, log)
            sandbox.hand_over(dest)
            git(["read-tree", "--reset", "-u", revision])  # -u: write the files too
        files, size = check_links(dest, "repository")
    except BaseException:
        snapshot_remove(dest)
        raise
    log(f"Exported {files} files, {size} bytes")
    seal(dest)


def _check_tree_size(listing: list[str], log: Log) -> None:
    """Refuse a tree past the limits; log the submodules it leaves out."""
    entries = total = 0
    submodules = []
    for line in listing:
        meta, _, path = line.partition("\t")
        fields = meta.split()
        if len(fields) != 4:
            continue
        entries += 1
        if fields[1] == "commit":
            submodules.append(path)
        elif fields[3].isdigit():
            total += int(fields[3])
    if entries > settings.PROJECT_MAX_FILES:
        raise SyncError(
            f"Refused: the repository holds more than {settings.PROJECT_MAX_FILES} files "
            "(PROJECT_MAX_FILES)."
        )
    if total > settings.PROJECT_MAX_BYTES:
        raise SyncError(
            f"Refused: the repository unpacks to more than {settings.PROJECT_MAX_BYTES} bytes "
            "(PROJECT_MAX_BYTES)."
        )
    if submodules:
        log(f"Submodules are not fetched; left empty: {', '.join(submodules)}")


# ---------------------------------------------------------------------------------------------
# Uploaded archives


def _new_directory(dest: Path) -> None:
    try:
        dest.mkdir(parents=True)
    except FileExistsError:
        raise SyncError(f"The snapshot directory {dest} already exists.") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def archive_unpack(*, archive: Path, dest: Path, log: Log) -> str:
    """Unpack a .tar.gz/.tgz/.tar/.zip into the new directory `dest`; return the archive's sha256.
    Refuse (SyncError naming the member): absolute paths, `..`, links leaving the tree (tar
    symlinks/hardlinks, zip symlinks), device/fifo files; and bombs: more than
    settings.PROJECT_MAX_FILES members or more than settings.PROJECT_MAX_BYTES bytes unpacked
    (counted while extracting, never trusting headers). A single top-level directory that holds
    everything (GitHub-style archives) is stripped. On any refusal `dest` is removed.

    The format is told by the content (zip magic, else tar with any compression), not the name;
    ``dest`` is sealed when done."""
    size = archive.stat().st_size
    if size > settings.PROJECT_ARCHIVE_MAX_BYTES:
        raise SyncError(
            f"Refused: {archive.name} is {size} bytes, more than "
            f"{settings.PROJECT_ARCHIVE_MAX_BYTES} (PROJECT_ARCHIVE_MAX_BYTES)."
        )
    digest = _sha256(archive)
    log(f"Unpacking {archive.name} (sha256 {digest})")
    with open(archive, "rb") as head:
        is_zip = head.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    _new_directory(dest)
    tree = Tree(dest, "archive")
    try:
        if is_zip:
            with zipfile.ZipFile(archive) as opened:
                unpack_zip(opened, tree)
        else:
            with tarfile.open(archive, mode="r:*") as tarred:
                unpack_tar(tarred, tree)
        tree.strip_single_top()
        tree.finish()
    except SyncError:
        snapshot_remove(dest)
        raise
    except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError) as exc:  # fmt: skip
        snapshot_remove(dest)
        if isinstance(exc, tarfile.ReadError) and not tree.files:
            raise SyncError(
                f"{archive.name} is not a .tar.gz, .tgz, .tar or .zip archive."
            ) from None
        raise SyncError(f"{archive.name} cannot be unpacked: {exc}") from None
    log(f"Unpacked {tree.files} entries, {tree.bytes} bytes")
    seal(dest)
    return digest


# ---------------------------------------------------------------------------------------------
# Requirements (ansible-galaxy)


def _requirement_files(snapshot: Path) -> list[tuple[str, Path]]:
    """(kind, file) pairs to install, kind ``role`` or ``collection``, in a stable order."""
    found = []
    for stem, kinds in (
        ("requirements", ("role", "collection")),
        ("roles/requirements", ("role",)),
        ("collections/requirements", ("collection",)),
    ):
        for suffix in (".yml", ".yaml"):
            path = snapshot / f"{stem}{suffix}"
            if not path.is_file() or not inside(path, snapshot):
                continue
            try:
                data = load_yaml(path)
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise SyncError(f"{stem}{suffix} is not valid YAML: {exc}") from None
            listed = {
                "role": data if isinstance(data, list) else None,
                "collection": None,
            }
            if isinstance(data, dict):
                listed = {"role": data.get("roles"), "collection": data.get("collections")}
            found += [(kind, path) for kind in kinds if listed[kind]]
    return found


def _galaxy_failure(name: str, tail: list[str]) -> str:
    said = [
        line.strip()
        for line in tail
        if line.strip()
        and ("ERROR" in line or "NOT installed" in line or line.lstrip().startswith("fatal:"))
        and "--ignore-errors" not in line
    ]
    said = said or [line.strip() for line in tail if line.strip()][-3:]
    return f"Cannot install the requirements of {name}: " + " ".join(said)[:800]


def requirements_install(
    *,
    snapshot: Path,
    log: Log,
    cancelled: Cancelled,
    timeout: int = 900,
    readonly: Sequence[Path] = (),
) -> bool:
    """Install what `requirements.yml`, `roles/requirements.yml` and `collections/requirements.yml`
    (any of them, also .yaml) name, with `ansible-galaxy` run in the sandbox, into
    `snapshot/.requirements/roles` and `snapshot/.requirements/collections` (roles: `ansible-galaxy
    role install -r F -p ...`; collections: `ansible-galaxy collection install -r F -p ...`; a
    top-level requirements.yml may hold both `roles:` and `collections:`). Returns False when there
    was nothing to install. Each output line goes to `log`. A requirement that cannot be installed
    raises SyncError with galaxy's message.

    Galaxy runs in the snapshot (so its ansible.cfg, e.g. galaxy servers, applies) and sees it
    read-only, with only ``.requirements`` writable; ``readonly`` shows more paths (local
    sources such as a tarball or a git+file:// repository). ``.requirements`` is sealed after."""
    wanted = _requirement_files(snapshot)
    if not wanted:
        log("No requirements to install.")
        return False
    _sandbox_ready()
    deadline = time.monotonic() + timeout
    target = snapshot / REQUIREMENTS_DIR
    with writable(snapshot):
        snapshot_remove(target)  # what an earlier, interrupted install left
        target.mkdir()
    sandbox.hand_over(target)
    galaxy = str(Path(sys.executable).parent / "ansible-galaxy")
    try:
        with _scratch() as workdir:
            env = {
                **_git_env(workdir, "-o BatchMode=yes -o StrictHostKeyChecking=accept-new"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_ROLES_PATH": str(target / "roles"),
                "ANSIBLE_COLLECTIONS_PATH": str(target / "collections"),
            }
            env.pop("GIT_ALLOW_PROTOCOL")  # roles come from any source git allows by default
            for kind, path in wanted:
                name = path.relative_to(snapshot).as_posix()
                where = target / f"{kind}s"
                argv = [galaxy, kind, "install", "-r", str(path), "-p", str(where)]
                code, tail = _run(
                    argv, shown=f"ansible-galaxy {kind} install -r {name} -p {where}", log=log,
                    cancelled=cancelled, deadline=deadline, timeout=timeout,
                    what="ansible-galaxy", workdir=workdir, env=env, cwd=snapshot,
                    readonly=[snapshot, *readonly], writable=[target],
                )  # fmt: skip
                if code:
                    raise SyncError(_galaxy_failure(name, tail))
        for directory, dirs, files in os.walk(target):
            for entry in dirs + files:
                path = Path(directory, entry)
                if path.is_symlink() and not inside(path, snapshot):
                    raise SyncError(
                        f"Refused: the requirement file {path.relative_to(snapshot)} is a link "
                        "pointing outside the project."
                    )
    except BaseException:
        with writable(snapshot):
            snapshot_remove(target)
        raise
    seal(target)
    return True
