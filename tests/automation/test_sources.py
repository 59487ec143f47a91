"""The worker's project sync engine (automation/runner/sources.py) with real parts: repositories
built with git on disk, a real sshd on loopback, archives crafted with tarfile and zipfile, a
collection built with ansible-galaxy, and every git and ansible-galaxy inside the sandbox (as
RUNNER_USER: these tests run as root). No network: every source is local or on loopback."""

import hashlib
import io
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import pytest

from automation.runner import sandbox
from automation.runner.snapshots import seal
from automation.runner.sources import (
    SyncCancelled,
    SyncError,
    archive_unpack,
    discover_playbooks,
    git_export,
    git_fetch,
    requirements_install,
    run_environment,
    snapshot_remove,
)
from tests.sshd import keygen

VENV_BIN = Path(sys.executable).parent
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def git(*args, cwd):
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit(work, files, message):
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


class Lines(list):
    """A ``log`` that keeps every line."""

    def __call__(self, line):
        assert "\n" not in line
        self.append(line)

    @property
    def text(self):
        return "\n".join(self)


def never():
    return False


class Repo:
    """A working repository and the bare one it pushes to: main (2 commits, an annotated tag
    v1.0 on the first), a branch feature (1 more commit)."""

    def __init__(self, root):
        self.work = root / "work"
        self.bare = root / "origin.git"
        self.work.mkdir(parents=True)
        git("init", "-q", "-b", "main", cwd=self.work)
        files = {
            "site.yml": "- hosts: all\n  tasks: []\n",
            "roles/web/tasks/main.yml": "- ansible.builtin.debug: {msg: hi}\n",
            ".gitattributes": "kept.txt export-ignore\n",
            "kept.txt": "export-ignore must not drop me\n",
        }
        self.first = commit(self.work, files, "first")
        os.symlink("site.yml", self.work / "alias.yml")
        (self.work / "run.sh").write_text("#!/bin/sh\necho run\n")
        (self.work / "run.sh").chmod(0o755)
        self.second = commit(self.work, {"group_vars/all.yml": "x: 1\n"}, "second")
        git("tag", "-a", "v1.0", "-m", "release", self.first, cwd=self.work)
        git("checkout", "-q", "-b", "feature", cwd=self.work)
        self.feature = commit(self.work, {"feature.yml": "- hosts: all\n"}, "feature")
        git("checkout", "-q", "main", cwd=self.work)
        git("clone", "-q", "--bare", str(self.work), str(self.bare), cwd=root)

    def push(self, files, message):
        sha = commit(self.work, files, message)
        git("push", "-q", str(self.bare), "main", cwd=self.work)
        return sha


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path / "src")


def fetch(repo_url, ref, cache, **options):
    log = options.pop("log", Lines())
    return git_fetch(url=str(repo_url), ref=ref, cache=cache, log=log, cancelled=never, **options)


def test_fetch_resolves_branch_tag_shas_and_the_default_branch(repo, tmp_path):
    cache = tmp_path / "cache.git"
    log = Lines()
    assert fetch(repo.bare, "main", cache, log=log) == repo.second
    assert f"$ git fetch --prune {repo.bare}" in log.text
    assert log[0] == "$ git init --bare"
    assert fetch(repo.bare, "v1.0", cache) == repo.first
    assert fetch(repo.bare, "feature", cache) == repo.feature
    assert fetch(f"file://{repo.bare}", repo.feature, cache) == repo.feature
    assert fetch(repo.bare, repo.first[:8], cache) == repo.first
    assert fetch(repo.bare, "", cache) == repo.second
    # The cache belongs to the account git ran as, inside the sandbox.
    assert cache.stat().st_uid == sandbox.run_as().uid


def test_fetch_of_an_unknown_branch_names_it(repo, tmp_path):
    with pytest.raises(SyncError) as caught:
        fetch(repo.bare, "nope", tmp_path / "cache.git")
    assert str(caught.value) == f"branch or tag 'nope' not found in {repo.bare}"


def test_fetch_of_a_missing_repository_says_so(tmp_path):
    with pytest.raises(SyncError, match="does not exist"):
        fetch(tmp_path / "missing.git", "main", tmp_path / "cache.git")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SyncError, match="not found or not readable") as caught:
        fetch(tmp_path / "empty", "main", tmp_path / "cache.git")
    assert "Traceback" not in str(caught.value)


def test_fetch_refuses_urls_that_are_not_repositories(tmp_path):
    for url, message in [
        ("ext::sh -c touch% /tmp/pwned", "Not a repository URL"),
        ("--upload-pack=touch /tmp/x", "cannot start with '-'"),
        ("http://example.com/x.git", "Unsupported repository URL scheme http"),
        ("relative/path", "Not a repository URL"),
    ]:
        with pytest.raises(SyncError, match=message):
            fetch(url, "main", tmp_path / "cache.git")
    with pytest.raises(SyncError, match="not a valid branch"):
        fetch(tmp_path, "main..x", tmp_path / "cache.git")


def test_credentials_never_reach_messages_or_log_lines(tmp_path):
    log = Lines()
    with pytest.raises(SyncError) as caught:
        fetch("https://robot:s3cr3t-token@127.0.0.1:1/x.git", "main", tmp_path / "c", log=log)
    assert "cannot reach https://127.0.0.1:1/x.git" in str(caught.value)
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in log.text
    assert "robot" not in str(caught.value) and "robot" not in log.text


def test_incremental_fetch_returns_the_new_commit_from_the_same_cache(repo, tmp_path):
    cache = tmp_path / "cache.git"
    assert fetch(repo.bare, "main", cache) == repo.second
    inode = (cache / "objects").stat().st_ino
    newer = repo.push({"new.yml": "- hosts: all\n"}, "third")
    log = Lines()
    assert fetch(repo.bare, "main", cache, log=log) == newer
    assert "git init" not in log.text
    assert (cache / "objects").stat().st_ino == inode
    assert git("cat-file", "-t", repo.second, cwd=cache) == "commit"


@pytest.fixture
def ssh_repo(target_sshd):
    """The repository in a directory the target's account (infra-target) owns and reads."""
    root = Path(tempfile.mkdtemp(prefix="sync-ssh-"))
    root.chmod(0o755)
    built = Repo(root)
    subprocess.run(["chown", "-R", target_sshd.user, str(built.bare)], check=True)
    yield built, f"ssh://{target_sshd.user}@{target_sshd.host}:{target_sshd.port}{built.bare}"
    shutil.rmtree(root, ignore_errors=True)


def test_fetch_over_ssh_with_a_key_and_a_wrong_key(ssh_repo, target_sshd, tmp_path):
    built, url = ssh_repo
    cache = tmp_path / "cache.git"
    assert fetch(url, "feature", cache, key_file=target_sshd.key_path) == built.feature
    # The server's host key is pinned in the project's own known_hosts.
    host_key = Path(f"{target_sshd.host_key_path}.pub").read_text().split()[1]
    assert host_key in (cache / "ssh_known_hosts").read_text()
    wrong = keygen(tmp_path / "wrong_key")
    secret = wrong.read_text()
    log = Lines()
    with pytest.raises(SyncError) as caught:
        fetch(url, "main", tmp_path / "other.git", key_file=wrong, log=log)
    message = str(caught.value)
    assert message.startswith(f"Cannot fetch: authentication to {url} failed"), message
    body = secret.splitlines()[1]
    assert body not in message and body not in log.text and "PRIVATE KEY" not in message


def processes_mentioning(text):
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline:
                found.append((entry.name, cmdline))
    return found


def test_cancel_stops_a_hanging_fetch_and_leaves_no_process(silent_server, tmp_path):
    url = f"ssh://git@127.0.0.1:{silent_server}/never.git"
    started = time.monotonic()
    with pytest.raises(SyncCancelled, match="^Cancelled.$"):
        git_fetch(
            url=url,
            ref="main",
            cache=tmp_path / "cache.git",
            log=Lines(),
            cancelled=lambda: time.monotonic() - started > 0.5,
        )
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 1
    while processes_mentioning(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(url) == []


def test_a_fetch_past_its_timeout_is_killed(silent_server, tmp_path):
    url = f"ssh://git@127.0.0.1:{silent_server}/slow.git"
    with pytest.raises(SyncError, match="^git fetch did not finish within 1 s$"):
        fetch(url, "main", tmp_path / "cache.git", timeout=1)
    assert processes_mentioning(url) == []


def walk(root):
    """Relative paths of every file and link below ``root`` (directories left out)."""
    found = set()
    for directory, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            found.add(os.path.relpath(os.path.join(directory, name), root))
    return found


def test_export_writes_the_tree_as_git_lists_it_sealed(repo, tmp_path):
    cache = tmp_path / "cache.git"
    revision = fetch(repo.bare, "main", cache)
    dest = tmp_path / "snapshots" / revision
    log = Lines()
    git_export(cache=cache, revision=revision, dest=dest, log=log)
    assert walk(dest) == set(git("ls-tree", "-r", "--name-only", revision, cwd=repo.bare).split())
    assert not (dest / ".git").exists() and (dest / "kept.txt").exists()
    assert os.readlink(dest / "alias.yml") == "site.yml"
    assert (dest / "site.yml").read_text() == "- hosts: all\n  tasks: []\n"
    assert f"$ git read-tree --reset -u {revision}" in log
    # Sealed: owned by the worker, nobody may write (the run-as account cannot even try).
    assert stat.S_IMODE((dest / "site.yml").stat().st_mode) == 0o444
    assert stat.S_IMODE((dest / "run.sh").stat().st_mode) == 0o555
    assert stat.S_IMODE((dest / "roles" / "web").stat().st_mode) == 0o555
    assert (dest / "site.yml").stat().st_uid == os.geteuid()
    snapshot_remove(dest)
    assert not dest.exists()


def test_export_refuses_a_link_leaving_the_tree(repo, tmp_path):
    os.symlink("../../../etc/passwd", repo.work / "escape")
    evil = repo.push({}, "a link out")
    cache = tmp_path / "cache.git"
    assert fetch(repo.bare, "main", cache) == evil
    dest = tmp_path / "snap"
    with pytest.raises(SyncError, match="'escape' is a link pointing outside the project"):
        git_export(cache=cache, revision=evil, dest=dest, log=Lines())
    assert not dest.exists()


def test_export_refuses_a_tree_past_the_limits_before_writing_it(repo, tmp_path, settings):
    cache = tmp_path / "cache.git"
    revision = fetch(repo.bare, "main", cache)
    settings.PROJECT_MAX_FILES = 3
    log = Lines()
    with pytest.raises(SyncError, match="holds more than 3 files"):
        git_export(cache=cache, revision=revision, dest=tmp_path / "snap", log=log)
    assert "read-tree" not in log.text and not (tmp_path / "snap").exists()
    settings.PROJECT_MAX_FILES = 1000
    settings.PROJECT_MAX_BYTES = 100
    with pytest.raises(SyncError, match="unpacks to more than 100 bytes"):
        git_export(cache=cache, revision=revision, dest=tmp_path / "snap", log=log)


# Archives -----------------------------------------------------------------------------------


def tar_archive(path, members, mode="w:gz"):
    """``members``: (TarInfo, bytes or None) pairs."""
    with tarfile.open(path, mode) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name, data=b"", kind=tarfile.REGTYPE, link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info, (data if kind == tarfile.REGTYPE else None)


def test_tar_gz_unpacks_with_the_top_directory_stripped(tmp_path):
    archive = tar_archive(
        tmp_path / "project.tar.gz",
        [
            member("proj-1.0/", kind=tarfile.DIRTYPE, mode=0o755),
            member("proj-1.0/site.yml", b"- hosts: all\n"),
            member("proj-1.0/bin/run", b"#!/bin/sh\n", mode=0o755),
            member("proj-1.0/alias.yml", kind=tarfile.SYMTYPE, link="site.yml"),
            member("proj-1.0/copy.yml", kind=tarfile.LNKTYPE, link="proj-1.0/site.yml"),
        ],
    )
    dest = tmp_path / "snap"
    log = Lines()
    digest = archive_unpack(archive=archive, dest=dest, log=log)
    assert digest == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert walk(dest) == {"site.yml", "bin/run", "alias.yml", "copy.yml"}
    assert (dest / "alias.yml").read_text() == "- hosts: all\n" == (dest / "copy.yml").read_text()
    assert stat.S_IMODE((dest / "bin" / "run").stat().st_mode) == 0o555
    assert digest in log.text


def test_zip_unpacks_with_the_top_directory_stripped(tmp_path):
    archive = tmp_path / "project.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("repo-main/", "")
        zipped.writestr("repo-main/site.yml", "- hosts: all\n")
        zipped.writestr("repo-main/playbooks/deploy.yml", "- hosts: web\n")
        zipped.writestr("__MACOSX/repo-main/._site.yml", "junk")
    dest = tmp_path / "snap"
    digest = archive_unpack(archive=archive, dest=dest, log=Lines())
    assert digest == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert walk(dest) == {"site.yml", "playbooks/deploy.yml"}
    assert discover_playbooks(dest) == ["playbooks/deploy.yml", "site.yml"]


@pytest.mark.parametrize(
    "members, refusal",
    [
        ([member("/etc/evil", b"x")], "'/etc/evil' has an absolute path"),
        ([member("a/../../evil", b"x")], "'a/../../evil' climbs out"),
        (
            [member("p/link", kind=tarfile.SYMTYPE, link="../../etc/passwd")],
            "'p/link' is a link pointing outside",
        ),
        ([member("abs", kind=tarfile.SYMTYPE, link="/etc/passwd")], "'abs' is a link pointing"),
        (
            # Each link looks inside on its own; through the first, the second leaves.
            [
                member("d1/d2/up", kind=tarfile.SYMTYPE, link="../.."),
                member("chain", kind=tarfile.SYMTYPE, link="d1/d2/up/.."),
            ],
            "'chain' is a link pointing outside",
        ),
        (
            [member("hard", kind=tarfile.LNKTYPE, link="../outside")],
            "'hard' is a hard link to something outside",
        ),
        ([member("hard2", kind=tarfile.LNKTYPE, link="/etc/shadow")], "'hard2' is a hard link"),
        (
            [member("in/l", kind=tarfile.SYMTYPE, link=".."), member("in/l/x", b"x")],
            "'in/l/x' lies inside a link",
        ),
        ([member("dev/null", kind=tarfile.CHRTYPE)], "'dev/null' is a device file or a fifo"),
        ([member("pipe", kind=tarfile.FIFOTYPE)], "'pipe' is a device file or a fifo"),
        ([member(f"f{i}", b"x") for i in range(11)], "holds more than 10 files"),
    ],
)
def test_tar_members_that_would_escape_are_refused(members, refusal, tmp_path, settings):
    settings.PROJECT_MAX_FILES = 10
    archive = tar_archive(tmp_path / "evil.tgz", members)
    dest = tmp_path / "snap"
    with pytest.raises(SyncError, match=refusal.replace("(", r"\(")):
        archive_unpack(archive=archive, dest=dest, log=Lines())
    assert not dest.exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path / "outside").exists()


def test_zip_bomb_and_zip_link_out_are_refused(tmp_path, settings):
    settings.PROJECT_MAX_BYTES = 1024 * 1024
    bomb = tmp_path / "bomb.zip"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zipped,
        zipped.open("zeros.bin", "w") as out,
    ):
        for _ in range(64):
            out.write(bytes(1024 * 1024))
    assert bomb.stat().st_size < 200 * 1024
    dest = tmp_path / "snap"
    with pytest.raises(SyncError, match="unpacks to more than 1048576 bytes"):
        archive_unpack(archive=bomb, dest=dest, log=Lines())
    assert not dest.exists()

    linked = tmp_path / "link.zip"
    with zipfile.ZipFile(linked, "w") as zipped:
        info = zipfile.ZipInfo("passwd")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(info, "/etc/passwd")
    with pytest.raises(SyncError, match="'passwd' is a link pointing outside"):
        archive_unpack(archive=linked, dest=dest, log=Lines())
    assert not dest.exists()


def test_a_file_that_is_no_archive_is_refused(tmp_path):
    junk = tmp_path / "notes.tar.gz"
    junk.write_text("just text")
    with pytest.raises(SyncError, match="is not a .tar.gz, .tgz, .tar or .zip archive"):
        archive_unpack(archive=junk, dest=tmp_path / "snap", log=Lines())
    assert not (tmp_path / "snap").exists()


# Requirements, run environment, playbooks -------------------------------------------------------


@pytest.fixture(scope="module")
def galaxy_sources(tmp_path_factory):
    """A collection tarball (testns.tools, filter ``shout``) and a role in a git repository."""
    root = tmp_path_factory.mktemp("galaxy")
    root.chmod(0o755)  # bound as it is into the sandbox, where RUNNER_USER reads it
    subprocess.run(
        [VENV_BIN / "ansible-galaxy", "collection", "init", "testns.tools", "--init-path", root],
        check=True,
        capture_output=True,
    )
    filters = root / "testns" / "tools" / "plugins" / "filter"
    filters.mkdir(parents=True)
    (filters / "shout.py").write_text(
        "def shout(value):\n    return str(value).upper() + '!'\n\n\n"
        "class FilterModule:\n    def filters(self):\n        return {'shout': shout}\n"
    )
    subprocess.run(
        [VENV_BIN / "ansible-galaxy", "collection", "build", root / "testns" / "tools"],
        cwd=root,
        check=True,
        capture_output=True,
    )
    role = root / "greeter"
    role.mkdir()
    git("init", "-q", "-b", "main", cwd=role)
    commit(
        role,
        {
            "tasks/main.yml": "- ansible.builtin.debug: {msg: 'greeter role says hi'}\n",
            "meta/main.yml": "galaxy_info: {author: t, description: t, license: MIT, "
            "min_ansible_version: '2.9', platforms: []}\ndependencies: []\n",
        },
        "role",
    )
    return root, root / "testns-tools-1.0.0.tar.gz", role


def snapshot_with(root, files):
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    seal(root)
    return root


def test_requirements_install_and_a_playbook_finds_them(galaxy_sources, tmp_path):
    sources_dir, tarball, role = galaxy_sources
    snap = snapshot_with(
        tmp_path / "snap",
        {
            "requirements.yml": f"roles:\n  - src: git+file://{role}\n    version: main\n"
            f"    name: greeter\ncollections:\n  - name: {tarball}\n    type: file\n",
            "site.yml": "- hosts: localhost\n  gather_facts: false\n  roles: [greeter]\n"
            "  tasks:\n    - ansible.builtin.debug:\n"
            "        msg: \"{{ 'hello' | testns.tools.shout }}\"\n",
        },
    )
    log = Lines()
    assert requirements_install(snapshot=snap, log=log, cancelled=never, readonly=[sources_dir])
    assert "$ ansible-galaxy role install -r requirements.yml" in log.text
    assert "greeter (main) was installed successfully" in log.text
    assert "testns.tools:1.0.0 was installed successfully" in log.text
    installed = snap / ".requirements"
    assert (installed / "roles" / "greeter" / "tasks" / "main.yml").is_file()
    assert stat.S_IMODE(installed.stat().st_mode) == 0o555
    assert installed.stat().st_uid == os.geteuid()

    env = run_environment(snap)
    assert env["ANSIBLE_ROLES_PATH"].startswith(f"{installed / 'roles'}:")
    assert env["ANSIBLE_COLLECTIONS_PATH"].startswith(f"{installed / 'collections'}:")
    workdir = Path(tempfile.mkdtemp(prefix="sync-play-"))
    try:
        (workdir / "home").mkdir()
        sandbox.hand_over(workdir)
        command = [
            str(VENV_BIN / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "site.yml",
        ]
        done = subprocess.run(
            sandbox.wrap(command, workdir=workdir, cwd=snap, readonly=[snap]),
            env=sandbox.environment({**env, "ANSIBLE_NOCOLOR": "1"}, workdir=workdir),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(workdir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "greeter role says hi" in done.stdout
    assert '"msg": "HELLO!"' in done.stdout


def test_a_requirement_that_cannot_be_installed_fails_with_galaxys_message(tmp_path):
    snap = snapshot_with(
        tmp_path / "snap",
        {
            "collections/requirements.yml": "collections:\n"
            "  - name: /nowhere/testns-missing-1.0.0.tar.gz\n    type: file\n"
        },
    )
    with pytest.raises(SyncError) as caught:
        requirements_install(snapshot=snap, log=Lines(), cancelled=never)
    message = str(caught.value)
    assert message.startswith("Cannot install the requirements of collections/requirements.yml")
    assert "Unable to find collection artifact file at '/nowhere/testns-missing" in message
    assert not (snap / ".requirements").exists()


def test_nothing_to_install_is_no_install(tmp_path):
    snap = snapshot_with(tmp_path / "snap", {"site.yml": "- hosts: all\n", "roles/x/a.yml": "1"})
    log = Lines()
    assert requirements_install(snapshot=snap, log=log, cancelled=never) is False
    assert log == ["No requirements to install."]
    assert run_environment(snap) == {}


def test_run_environment_keeps_the_projects_ansible_cfg_paths(tmp_path):
    snap = tmp_path / "snap"
    (snap / ".requirements" / "roles").mkdir(parents=True)
    (snap / "ansible.cfg").write_text(
        "[defaults]\nroles_path = ./myroles:/opt/roles ; ours\ncollections_paths = colls\n"
    )
    env = run_environment(snap)
    assert env["ANSIBLE_ROLES_PATH"].split(":") == [
        f"{snap}/.requirements/roles",
        f"{snap}/myroles",
        "/opt/roles",
        "~/.ansible/roles",
        "/usr/share/ansible/roles",
        "/etc/ansible/roles",
    ]
    assert env["ANSIBLE_COLLECTIONS_PATH"].split(":") == [
        f"{snap}/colls",
        "~/.ansible/collections",
        "/usr/share/ansible/collections",
    ]


def test_discover_playbooks_finds_plays_and_nothing_else(tmp_path):
    play = "- name: p\n  hosts: all\n  tasks: []\n"
    files = {
        "site.yml": play,
        "all.yaml": "- import_playbook: site.yml\n- ansible.builtin.import_playbook: x.yml\n",
        "vault.yml": "- hosts: db\n  vars:\n    password: !vault |\n"
        "      $ANSIBLE_VAULT;1.1;AES256\n      6162\n    raw: !unsafe '{{ x }}'\n",
        "tasks.yml": "- name: a task\n  ansible.builtin.debug: {msg: hi}\n",
        "vars.yml": "hosts: all\n",
        "mixed.yml": play + "- just a string\n",
        "empty.yml": "[]\n",
        "broken.yml": "- hosts: [unclosed\n",
        "requirements.yml": play,
        "big.yml": play + "#" * (1024 * 1024) + "\n",
        "README.md": play,
        "roles/web/tasks/main.yml": play,
        ".hidden/p.yml": play,
        ".requirements/roles/r/p.yml": play,
        "playbooks/deploy.yaml": play,
        "playbooks/sub/more.yml": play,
        "playbooks/group_vars/all.yml": play,
        "playbooks/.cache/p.yml": play,
        "other/p.yml": play,
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    os.symlink("/etc/hostname", tmp_path / "outside.yml")
    assert discover_playbooks(tmp_path) == [
        "all.yaml",
        "playbooks/deploy.yaml",
        "playbooks/sub/more.yml",
        "site.yml",
        "vault.yml",
    ]


def test_an_archive_over_the_upload_limit_or_into_an_existing_directory_is_refused(
    tmp_path, settings
):
    archive = tar_archive(tmp_path / "p.tgz", [member("site.yml", b"- hosts: all\n")])
    settings.PROJECT_ARCHIVE_MAX_BYTES = 10
    with pytest.raises(SyncError, match="more than 10 \\(PROJECT_ARCHIVE_MAX_BYTES\\)"):
        archive_unpack(archive=archive, dest=tmp_path / "snap", log=Lines())
    assert not (tmp_path / "snap").exists()
    settings.PROJECT_ARCHIVE_MAX_BYTES = 1024 * 1024
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "mine").write_text("kept")
    with pytest.raises(SyncError, match="already exists"):
        archive_unpack(archive=archive, dest=tmp_path / "snap", log=Lines())
    assert (tmp_path / "snap" / "mine").read_text() == "kept"
