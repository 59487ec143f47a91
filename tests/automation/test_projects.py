"""Projects end to end, offline, with real parts: a Git repository on disk, real syncs (git and
ansible-galaxy in the sandbox), real ansible-playbook runs inside the snapshot."""

import io
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from auditing.models import AuditLog
from automation.models import Job, Playbook, Project, ProjectSnapshot, ProjectSync
from automation.services.jobs import job_launch, job_relaunch
from automation.services.projects import (
    project_create,
    project_sync_launch,
    project_update,
    snapshots_prune,
)

pytestmark = pytest.mark.django_db

FILES = {
    "ansible.cfg": "[defaults]\nroles_path = ./roles_custom\n",
    "site.yml": """\
- name: Site
  hosts: all
  gather_facts: false
  vars_files:
    - vars/main.yml
  roles:
    - greeter
  tasks:
    - name: Extra tasks
      ansible.builtin.import_tasks: tasks/extra.yml
    - name: Render the motd
      ansible.builtin.template:
        src: templates/motd.j2
        dest: "{{ lookup('env', 'HOME') }}/motd.txt"
        mode: "0600"
    - name: Use the project's filter
      ansible.builtin.debug:
        msg: "{{ 'quiet words' | shout }}"
""",
    "other.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n",
    "vars/main.yml": "greeting: hello-from-vars-file\n",
    "tasks/extra.yml": "- name: Say extra\n  ansible.builtin.debug:\n    msg: extra-task-file\n",
    "templates/motd.j2": "Welcome, {{ greeting }}\n",
    "filter_plugins/shout.py": (
        "class FilterModule:\n"
        "    def filters(self):\n"
        "        return {'shout': lambda text: text.upper() + '!'}\n"
    ),
    "roles_custom/greeter/tasks/main.yml": (
        "- name: Greet\n  ansible.builtin.debug:\n    msg: 'role says {{ greeting }}'\n"
    ),
}
RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>ok=.*)$", re.MULTILINE)


def git(*args, cwd):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def repo(tmp_path):
    """A bare repository (the remote) and a working clone to commit from."""
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", "-b", "main", cwd=work)
    git("config", "user.email", "t@example.test", cwd=work)
    git("config", "user.name", "Test", cwd=work)
    write_tree(work, FILES)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    bare = tmp_path / "remote.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=work)

    class Repo:
        path = bare
        checkout = work

        def commit(self, files, message="change"):
            write_tree(work, files)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", message, cwd=work)
            git("push", "-q", "origin", "main", cwd=work)
            return git("rev-parse", "HEAD", cwd=work)

        @property
        def head(self):
            return git("rev-parse", "HEAD", cwd=work)

    return Repo()


@pytest.fixture
def synced(inline_tasks, admin, repo):
    """A Git project synced once through the real sync task."""

    def make(name="Site", **kwargs):
        with inline_tasks():
            project = project_create(
                user=admin, name=name, kind=Project.Kind.GIT, url=str(repo.path), **kwargs
            )
        project.refresh_from_db()
        return project

    return make


def sync_again(inline_tasks, project, user):
    with inline_tasks():
        sync = project_sync_launch(project=project, user=user)
    sync.refresh_from_db()
    project.refresh_from_db()
    return sync


def sync_log(sync):
    return "\n".join(sync.logs.order_by("line_number").values_list("content", flat=True))


def run(inline_tasks, **kwargs):
    with inline_tasks():
        job = job_launch(**kwargs)
    job.refresh_from_db()
    return job


def console(job):
    return "\n".join(job.logs.order_by("line_number").values_list("content", flat=True))


def test_a_git_project_syncs_into_a_read_only_snapshot_and_finds_its_playbooks(synced, repo):
    project = synced()
    sync = project.syncs.get()
    assert sync.status == ProjectSync.Status.SUCCESS, sync_log(sync)
    snapshot = project.current_snapshot
    assert snapshot.revision == repo.head == sync.revision
    assert snapshot.playbooks == ["other.yml", "site.yml"]
    root = snapshot.absolute_path
    assert (root / "roles_custom/greeter/tasks/main.yml").is_file()
    assert not (root / ".git").exists()
    assert not os.access(root / "site.yml", os.W_OK) or os.geteuid() == 0
    assert (root / "site.yml").stat().st_mode & 0o222 == 0
    assert root.stat().st_mode & 0o222 == 0
    names = set(Playbook.objects.filter(project=project).values_list("path", flat=True))
    assert names == {"other.yml", "site.yml"}
    assert AuditLog.objects.filter(action=AuditLog.Action.SYNC, resource_id=str(sync.sync_id))


def test_a_project_playbook_runs_as_ansible_playbook_does_in_the_checkout(
    synced, repo, inline_tasks, localhost, admin, tmp_path
):
    """Roles from the project's ansible.cfg roles_path, a vars file, a task file, a template
    and a filter plugin: same rc and per-host stats as ansible-playbook run in a checkout."""
    project = synced()
    playbook = Playbook.objects.get(project=project, path="site.yml")
    job = run(inline_tasks, playbook=playbook, server=localhost, user=admin)
    assert job.status == Job.Status.SUCCESS, (job.error_message, console(job))
    assert job.project_snapshot == project.current_snapshot and job.playbook_path == "site.yml"
    text = console(job)
    for expected in ("role says hello-from-vars-file", "extra-task-file", "QUIET WORDS!"):
        assert expected in text
    # The same checkout run directly.
    checkout = tmp_path / "checkout"
    git("clone", "-q", str(repo.path), str(checkout), cwd=tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    bare = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "site.yml",
        ],
        cwd=checkout,
        env={"PATH": os.environ["PATH"], "HOME": str(home), "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
    )
    assert bare.returncode == job.rc == 0, bare.stdout + bare.stderr
    recap = RECAP.search(bare.stdout)
    counts = dict(part.split("=") for part in recap["counts"].split())
    expected = {
        "ok": int(counts["ok"]),
        "changed": int(counts["changed"]),
        "failed": int(counts["failed"]),
        "unreachable": int(counts["unreachable"]),
        "skipped": int(counts["skipped"]),
        "rescued": int(counts["rescued"]),
        "ignored": int(counts["ignored"]),
    }
    assert job.stats["localhost"] == expected


def test_relaunch_keeps_the_revision_and_run_latest_takes_the_new_one(
    synced, repo, inline_tasks, localhost, admin, as_admin
):
    project = synced()
    playbook = Playbook.objects.get(project=project, path="site.yml")
    first = run(inline_tasks, playbook=playbook, server=localhost, user=admin)
    old = project.current_snapshot
    new_head = repo.commit({"vars/main.yml": "greeting: second-revision\n"})
    sync = sync_again(inline_tasks, project, admin)
    assert sync.status == ProjectSync.Status.SUCCESS, sync_log(sync)
    assert project.current_snapshot.revision == new_head != old.revision
    with inline_tasks():
        again = job_relaunch(job=first, user=admin)
        latest = job_relaunch(job=first, user=admin, latest=True)
    again.refresh_from_db()
    latest.refresh_from_db()
    assert again.project_snapshot == old and "hello-from-vars-file" in console(again)
    assert latest.project_snapshot == project.current_snapshot
    assert "second-revision" in console(latest)
    # The job page names the revision and compares it with the previous run's.
    page = as_admin.get(latest.get_absolute_url()).content.decode()
    assert new_head[:12] in page and 'id="compare-revisions"' in page
    compare = as_admin.get(
        reverse("project_compare", args=[project.pk]) + f"?from={old.revision}&to={new_head}"
    ).content.decode()
    assert "vars/main.yml" in compare and "second-revision" in compare
    assert "site.yml</h2>" not in compare  # unchanged files are not listed
    # Run latest is offered on the old job's page only.
    assert 'id="run-latest"' in as_admin.get(first.get_absolute_url()).content.decode()


def test_a_failed_sync_keeps_the_last_good_snapshot_serving_launches(
    synced, inline_tasks, admin, localhost
):
    project = synced()
    good = project.current_snapshot
    with inline_tasks():
        project_update(
            project=project, user=admin, name=project.name, url=project.url, ref="no-such-branch"
        )
    sync = project.syncs.order_by("-created_at").first()
    assert sync.status == ProjectSync.Status.FAILED
    assert "no-such-branch" in sync.error_message
    project.refresh_from_db()
    assert project.current_snapshot == good
    playbook = Playbook.objects.get(project=project, path="other.yml")
    job = run(inline_tasks, playbook=playbook, server=localhost, user=admin)
    assert job.status == Job.Status.SUCCESS and job.project_snapshot == good


def test_an_unreachable_repository_fails_the_sync_with_a_clear_message(
    inline_tasks, admin, tmp_path
):
    with inline_tasks():
        project = project_create(
            user=admin, name="Gone", kind=Project.Kind.GIT, url=str(tmp_path / "nothing.git")
        )
    sync = project.syncs.get()
    assert sync.status == ProjectSync.Status.FAILED
    assert sync.error_message and "Traceback" not in sync_log(sync)
    assert project.current_snapshot is None
    assert not Playbook.objects.filter(project=project).exists()


def tar_gz(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if isinstance(data, tarfile.TarInfo):
                info = data
            else:
                payload = data.encode()
                info.size = len(payload)
                archive.addfile(info, io.BytesIO(payload))
                continue
            archive.addfile(info)
    return buffer.getvalue()


def test_an_archive_project_runs_and_a_bad_archive_keeps_the_last_good_one(
    inline_tasks, admin, localhost
):
    members = {f"site-1.0/{name}": text for name, text in FILES.items()}
    upload = SimpleUploadedFile("site-1.0.tar.gz", tar_gz(members))
    with inline_tasks():
        project = project_create(user=admin, name="Archive", kind="archive", archive=upload)
    project.refresh_from_db()
    sync = project.syncs.get()
    assert sync.status == ProjectSync.Status.SUCCESS, sync_log(sync)
    good = project.current_snapshot
    assert len(good.revision) == 64 and "site.yml" in good.playbooks
    playbook = Playbook.objects.get(project=project, path="site.yml")
    job = run(inline_tasks, playbook=playbook, server=localhost, user=admin)
    assert job.status == Job.Status.SUCCESS, console(job)
    # A member escaping the tree: the sync fails, naming it; the good snapshot stays.
    escape = SimpleUploadedFile("bad.tar.gz", tar_gz({"../../evil.yml": "- hosts: all\n"}))
    with inline_tasks():
        project_update(project=project, user=admin, name=project.name, archive=escape)
    failed = project.syncs.order_by("-created_at").first()
    assert failed.status == ProjectSync.Status.FAILED
    assert "evil.yml" in failed.error_message
    project.refresh_from_db()
    assert project.current_snapshot == good


def test_pruning_keeps_what_jobs_and_projects_need_and_relaunch_says_why_it_cannot(
    synced, repo, inline_tasks, localhost, admin
):
    project = synced()
    playbook = Playbook.objects.get(project=project, path="other.yml")
    first = run(inline_tasks, playbook=playbook, server=localhost, user=admin)
    old = project.current_snapshot
    repo.commit({"other.yml": FILES["other.yml"] + "# changed\n"})
    sync_again(inline_tasks, project, admin)
    out = io.StringIO()
    call_command("prune_snapshots", "--keep", "0", stdout=out)
    assert "Pruned 1 snapshots" in out.getvalue()
    old.refresh_from_db()
    assert old.pruned_at and not old.absolute_path.exists()
    assert project.current_snapshot.on_disk
    with pytest.raises(Exception, match="no longer on disk"):
        job_relaunch(job=first, user=admin)
    # The job still names its revision.
    first.refresh_from_db()
    assert first.project_snapshot.revision == old.revision


def test_a_live_job_keeps_its_snapshot_from_the_pruner(
    synced, repo, inline_tasks, admin, localhost
):
    project = synced()
    playbook = Playbook.objects.get(project=project, path="other.yml")
    old = project.current_snapshot
    pending = Job.objects.create(
        playbook=playbook, server=localhost, user=admin, project_snapshot=old, playbook_path="x"
    )
    repo.commit({"other.yml": FILES["other.yml"] + "# changed\n"})
    sync_again(inline_tasks, project, admin)
    assert snapshots_prune(keep=0) == 0
    assert old.absolute_path.is_dir()
    pending.delete()
    assert snapshots_prune(keep=0) == 1


def test_a_second_sync_while_one_is_live_is_the_same_sync(admin, repo):
    project = project_create(
        user=admin, name="Twice", kind=Project.Kind.GIT, url=str(repo.path), sync=False
    )
    first = project_sync_launch(project=project, user=admin)
    assert project_sync_launch(project=project, user=admin) == first


def test_cancelling_a_pending_sync_ends_it_and_audits(admin, as_admin, repo):
    project = project_create(
        user=admin, name="Cancel", kind=Project.Kind.GIT, url=str(repo.path), sync=False
    )
    sync = project_sync_launch(project=project, user=admin)
    response = as_admin.post(reverse("project_sync_cancel", args=[sync.sync_id]))
    assert response.status_code == 302
    sync.refresh_from_db()
    assert sync.status == ProjectSync.Status.CANCELLED
    assert AuditLog.objects.filter(action=AuditLog.Action.CANCEL, resource_id=str(sync.sync_id))


@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"url": "ext::sh -c touch% /tmp/pwned"}, "url", "Not a Git repository address"),
        ({"url": "--upload-pack=touch /tmp/x"}, "url", "Not a Git repository address"),
        ({"url": ""}, "url", "Give the repository"),
        ({"ref": "--orphan"}, "ref", "Not a branch"),
        ({"ref": "a..b"}, "ref", "Not a branch"),
        ({"key_path": "../../etc/shadow"}, "key_path", "must be a file inside"),
    ],
)
def test_the_project_form_refuses_bad_sources_and_keeps_the_values(
    as_admin, data, field, message
):
    post = {"name": "Bad", "kind": "git", "url": "https://git.example.test/a.git", **data}
    response = as_admin.post(reverse("project_new"), post)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field]), errors
    assert not Project.objects.exists() and not ProjectSync.objects.exists()
    assert post["name"] in response.content.decode()


def test_the_project_form_refuses_bad_archives(as_admin, settings):
    settings.PROJECT_ARCHIVE_MAX_BYTES = 100
    cases = [
        (SimpleUploadedFile("site.rar", b"x"), "not an archive"),
        (SimpleUploadedFile("site.tar.gz", b"x" * 101), "the limit is 100 bytes"),
        (None, "Upload the project's archive"),
    ]
    for upload, message in cases:
        post = {"name": "Arch", "kind": "archive"}
        if upload:
            post["archive"] = upload
        response = as_admin.post(reverse("project_new"), post)
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors["archive"])
    assert not Project.objects.exists()


def test_project_pages_show_the_sync_its_files_and_no_credentials(synced, as_user, as_admin):
    project = synced()
    Project.objects.filter(pk=project.pk).update(url="https://bob:s3cret@git.example.test/x.git")
    detail = as_user.get(project.get_absolute_url()).content.decode()
    assert "s3cret" not in detail and "git.example.test/x.git" in detail
    assert "Sync now" not in detail  # users read, admins manage
    assert "Sync now" in as_admin.get(project.get_absolute_url()).content.decode()
    sync = project.syncs.get()
    page = as_user.get(sync.get_absolute_url()).content.decode()
    assert project.current_snapshot.revision in page
    revision = as_user.get(project.current_snapshot.get_absolute_url()).content.decode()
    assert "roles_custom/greeter/tasks/main.yml" in revision
    one = as_user.get(project.current_snapshot.get_absolute_url() + "?file=vars/main.yml")
    assert "hello-from-vars-file" in one.content.decode()
    for bad in ("../../../etc/passwd", "/etc/passwd", "nope.yml"):
        response = as_user.get(project.current_snapshot.get_absolute_url() + f"?file={bad}")
        assert response.status_code == 404
    download = as_user.get(reverse("project_sync_download", args=[sync.sync_id]))
    assert "Revision" in b"".join(download.streaming_content).decode()


def test_the_launch_form_offers_project_playbooks_once_synced(synced, as_admin, admin, repo):
    unsynced = project_create(
        user=admin, name="Later", kind=Project.Kind.GIT, url=str(repo.path), sync=False
    )
    Playbook.objects.create(name="Later: site.yml", project=unsynced, path="site.yml")
    project = synced()
    page = as_admin.get(reverse("job_new")).content.decode()
    assert "Site: site.yml" in page and "Later: site.yml" not in page
    assert ProjectSnapshot.objects.filter(project=project).count() == 1


def test_renaming_a_project_renames_its_playbooks_without_a_new_sync(synced, admin):
    project = synced()
    project_update(project=project, user=admin, name="Renamed", url=project.url, ref=project.ref)
    assert set(Playbook.objects.filter(project=project).values_list("name", flat=True)) == {
        "Renamed: other.yml",
        "Renamed: site.yml",
    }
    assert project.syncs.count() == 1


def test_the_reaper_fails_a_sync_whose_worker_is_gone():
    import socket

    from django.utils import timezone

    from tests.factories import ProjectSyncFactory

    sync = ProjectSyncFactory(
        status=ProjectSync.Status.RUNNING,
        worker=f"{socket.gethostname()}:999999:gone",
        started_at=timezone.now(),
    )
    out = io.StringIO()
    call_command("reap_jobs", stdout=out)
    sync.refresh_from_db()
    assert sync.status == ProjectSync.Status.FAILED
    assert sync.error_message.startswith("worker lost: its worker process")
    assert f"Failed sync {sync.sync_id}" in out.getvalue()
