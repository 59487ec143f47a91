"""Projects through their real sources: a repository over ssh:// with a deploy key, Galaxy
requirements shipped in the repository, and a sync cancelled while it hangs, on a real worker."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from automation.models import Job, Playbook, Project, ProjectSync
from automation.services.jobs import job_launch
from automation.services.projects import project_create, project_update
from tests.automation.conftest import wait_for

VENV_BIN = Path(sys.executable).parent


def git(*args, cwd):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, files: dict[str, bytes | str]) -> Path:
    """A bare repository holding ``files`` in one commit on main."""
    work = root / "work"
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("-c", "user.email=t@example.test", "-c", "user.name=T", "commit", "-q", "-m", "one",
        cwd=work)  # fmt: skip
    bare = root / "origin.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return bare


SITE = (
    "- hosts: all\n  gather_facts: false\n  tasks:\n"
    "    - ansible.builtin.debug: {msg: over-ssh}\n"
)


@pytest.mark.django_db
def test_a_project_over_ssh_with_a_deploy_key_syncs_and_runs(
    target_sshd, settings, inline_tasks, admin, localhost
):
    root = Path(tempfile.mkdtemp(prefix="project-ssh-"))
    try:
        root.chmod(0o755)
        bare = make_repo(root, {"site.yml": SITE})
        subprocess.run(["chown", "-R", target_sshd.user, str(bare)], check=True)
        shutil.copyfile(target_sshd.key_path, settings.SSH_KEYS_DIR / "deploy_key")
        url = f"ssh://{target_sshd.user}@{target_sshd.host}:{target_sshd.port}{bare}"
        with inline_tasks():
            project = project_create(
                user=admin, name="Over ssh", kind=Project.Kind.GIT, url=url, key_path="deploy_key"
            )
        sync = project.syncs.get()
        assert sync.status == ProjectSync.Status.SUCCESS, sync.error_message
        key_body = (settings.SSH_KEYS_DIR / "deploy_key").read_text().splitlines()[1]
        log = "\n".join(sync.logs.values_list("content", flat=True))
        assert key_body not in log
        playbook = Playbook.objects.get(project=project, path="site.yml")
        with inline_tasks():
            job = job_launch(playbook=playbook, server=localhost, user=admin)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCESS
        assert "over-ssh" in "".join(job.logs.values_list("content", flat=True))
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def collection_tarball(tmp_path_factory):
    """A collection (testns.tools with a filter ``shout``) built by ansible-galaxy."""
    root = tmp_path_factory.mktemp("collection")
    galaxy = str(VENV_BIN / "ansible-galaxy")
    subprocess.run(
        [galaxy, "collection", "init", "testns.tools", "--init-path", root],
        check=True, capture_output=True,
    )  # fmt: skip
    filters = root / "testns" / "tools" / "plugins" / "filter"
    filters.mkdir(parents=True)
    (filters / "shout.py").write_text(
        "class FilterModule:\n"
        "    def filters(self):\n"
        "        return {'shout': lambda value: str(value).upper() + '!'}\n"
    )
    subprocess.run(
        [galaxy, "collection", "build", root / "testns" / "tools"],
        cwd=root, check=True, capture_output=True,
    )  # fmt: skip
    return (root / "testns-tools-1.0.0.tar.gz").read_bytes()


@pytest.mark.django_db
def test_requirements_in_the_repository_are_installed_and_used_by_its_playbooks(
    collection_tarball, tmp_path, inline_tasks, admin, localhost
):
    files = {
        "vendor/testns-tools-1.0.0.tar.gz": collection_tarball,
        "collections/requirements.yml": (
            "collections:\n  - name: vendor/testns-tools-1.0.0.tar.gz\n    type: file\n"
        ),
        "site.yml": (
            "- hosts: all\n  gather_facts: false\n  tasks:\n"
            "    - ansible.builtin.debug:\n"
            "        msg: \"{{ 'from galaxy' | testns.tools.shout }}\"\n"
        ),
    }
    bare = make_repo(tmp_path, files)
    with inline_tasks():
        project = project_create(user=admin, name="Reqs", kind=Project.Kind.GIT, url=str(bare))
    sync = project.syncs.get()
    log = "\n".join(sync.logs.order_by("line_number").values_list("content", flat=True))
    assert sync.status == ProjectSync.Status.SUCCESS, log
    project.refresh_from_db()
    assert project.current_snapshot.requirements_installed
    assert "ansible-galaxy collection install" in log
    playbook = Playbook.objects.get(project=project, path="site.yml")
    with inline_tasks():
        job = job_launch(playbook=playbook, server=localhost, user=admin)
    job.refresh_from_db()
    text = "".join(job.logs.values_list("content", flat=True))
    assert job.status == Job.Status.SUCCESS, text
    assert "FROM GALAXY!" in text


@pytest.mark.django_db
def test_a_requirement_that_cannot_be_installed_fails_the_sync_and_keeps_the_last_good(
    tmp_path, inline_tasks, admin
):
    good = make_repo(tmp_path / "good", {"site.yml": SITE})
    bad = make_repo(
        tmp_path / "bad",
        {
            "site.yml": SITE,
            "requirements.yml": "collections:\n  - name: vendor/missing-1.0.0.tar.gz\n"
            "    type: file\n",
        },
    )
    with inline_tasks():
        project = project_create(user=admin, name="Req fail", kind="git", url=str(good))
    project.refresh_from_db()
    last_good = project.current_snapshot
    with inline_tasks():
        project_update(project=project, user=admin, name=project.name, url=str(bad))
    failed = project.syncs.order_by("-created_at").first()
    assert failed.status == ProjectSync.Status.FAILED
    assert "requirements" in failed.error_message and "missing-1.0.0" in failed.error_message
    project.refresh_from_db()
    assert project.current_snapshot == last_good
    snapshots = project.directory / "snapshots"
    assert sorted(p.name for p in snapshots.iterdir()) == [last_good.revision]


def test_a_sync_cancelled_while_it_hangs_stops_on_a_real_worker(
    qcluster, silent_server, admin, as_admin
):
    project = project_create(
        user=admin,
        name="Hangs",
        kind=Project.Kind.GIT,
        url=f"ssh://git@127.0.0.1:{silent_server}/never.git",
    )
    sync = project.syncs.get()
    wait_for(lambda: ProjectSync.objects.get(pk=sync.pk).status == "running", timeout=60)
    wait_for(lambda: sync.logs.filter(content__startswith="$ git fetch").exists(), timeout=30)
    response = as_admin.post(reverse("project_sync_cancel", args=[sync.sync_id]))
    assert response.status_code == 302
    wait_for(lambda: ProjectSync.objects.get(pk=sync.pk).is_finished, timeout=10)
    sync.refresh_from_db()
    assert sync.status == ProjectSync.Status.CANCELLED, sync.error_message
    assert not (project.directory / "snapshots").exists() or not any(
        (project.directory / "snapshots").iterdir()
    )
