"""Playbooks when something is wrong underneath: a read-only or full disk (real tmpfs mounts),
a stale edit form, a file that went missing. Nothing becomes a 500, nothing half-written stays,
and the admin's input is never lost."""

import subprocess
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from automation.models import Job, Playbook, PlaybookVersion
from automation.services.jobs import job_launch
from tests.automation.conftest import tasks_yaml
from tests.factories import PlaybookFactory

pytestmark = pytest.mark.django_db

GOOD = """\
- name: Web servers
  hosts: all
  gather_facts: false
  tasks:
    - name: Install nginx
      ansible.builtin.debug:
        msg: installing
"""
MINE = GOOD.replace("installing", "my careful edit")


@pytest.fixture
def playbooks_disk(settings):
    """PLAYBOOKS_DIR on a small tmpfs of its own: a real file system that a test can turn
    read-only (``remount,ro``) or fill; unmounted after the test."""
    path = Path(settings.PLAYBOOKS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (the tests run as root): {mounted.stderr.strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=True)


def read_only(path):
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def fill(path):
    """Fill the file system: the write stops at ENOSPC and the file stays."""
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={path / 'filler'}", "bs=4k"], capture_output=True, check=False
    )


def listing(path):
    return sorted(p.name for p in path.iterdir())


def edit_data(playbook, content, **extra):
    playbook.refresh_from_db()
    data = {
        "name": playbook.name,
        "description": playbook.description,
        "content": content,
        "base_fingerprint": playbook.edit_fingerprint(playbook.read_content()),
    }
    return {**data, **extra}


def upload(data):
    return SimpleUploadedFile("site.yml", data.encode(), content_type="application/x-yaml")


# --- a disk that cannot take the file --------------------------------------------------


def test_creating_a_playbook_on_a_read_only_disk_is_a_form_error_that_keeps_the_text(
    as_admin, playbooks_disk
):
    read_only(playbooks_disk)
    response = as_admin.post(
        "/playbooks/new/", {"name": "Web", "description": "front ends", "content": MINE}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "could not be saved" in text and "read-only file system" in text
    assert "my careful edit" in text and "front ends" in text  # nothing typed is lost
    assert not Playbook.objects.exists() and not PlaybookVersion.objects.exists()
    assert listing(playbooks_disk) == []


def test_editing_a_playbook_on_a_read_only_disk_keeps_the_old_version_and_the_new_text(
    as_admin, playbooks_disk
):
    playbook = PlaybookFactory(content=GOOD)
    before = listing(playbooks_disk)
    read_only(playbooks_disk)
    response = as_admin.post(f"/playbooks/{playbook.pk}/edit/", edit_data(playbook, MINE))
    assert response.status_code == 200
    text = response.content.decode()
    assert "read-only file system" in text and "my careful edit" in text
    playbook.refresh_from_db()
    assert playbook.read_content() == GOOD and listing(playbooks_disk) == before
    assert not PlaybookVersion.objects.exists()


def test_editing_a_playbook_on_a_full_disk_leaves_no_partial_file(as_admin, playbooks_disk):
    playbook = PlaybookFactory(content=GOOD)
    fill(playbooks_disk)
    before = listing(playbooks_disk)
    response = as_admin.post(f"/playbooks/{playbook.pk}/edit/", edit_data(playbook, MINE))
    assert response.status_code == 200
    text = response.content.decode()
    assert "full disk" in text and "my careful edit" in text
    playbook.refresh_from_db()
    assert playbook.read_content() == GOOD
    assert listing(playbooks_disk) == before  # no temporary file left behind


def test_uploading_and_replacing_on_a_read_only_disk_are_form_errors(as_admin, playbooks_disk):
    playbook = PlaybookFactory(content=GOOD)
    read_only(playbooks_disk)
    created = as_admin.post(
        "/playbooks/upload/", {"name": "Uploaded", "description": "kept", "file": upload(MINE)}
    )
    assert created.status_code == 200
    assert "read-only file system" in created.content.decode()
    assert "Choose the file again" in created.content.decode()
    assert 'value="Uploaded"' in created.content.decode()
    replaced = as_admin.post(
        f"/playbooks/{playbook.pk}/replace/",
        {"file": upload(MINE), "base_sha256": playbook.content_sha256},
    )
    assert replaced.status_code == 200 and "read-only file system" in replaced.content.decode()
    assert Playbook.objects.get().read_content() == GOOD
    assert not PlaybookVersion.objects.exists()


def test_restoring_a_version_on_a_read_only_disk_says_why_and_changes_nothing(
    as_admin, playbooks_disk, django_capture_on_commit_callbacks
):
    playbook = PlaybookFactory(content=GOOD)
    with django_capture_on_commit_callbacks(execute=True):
        as_admin.post(f"/playbooks/{playbook.pk}/edit/", edit_data(playbook, MINE))
    version = PlaybookVersion.objects.get()
    read_only(playbooks_disk)
    response = as_admin.post(f"/playbooks/{playbook.pk}/restore/{version.pk}/", follow=True)
    assert response.status_code == 200
    assert "was not restored" in response.content.decode()
    assert "read-only file system" in response.content.decode()
    playbook.refresh_from_db()
    assert playbook.read_content() == MINE and PlaybookVersion.objects.count() == 1


def test_a_playbooks_directory_under_a_file_is_a_form_error(as_admin, settings, tmp_path):
    (tmp_path / "a-file").write_text("")
    settings.PLAYBOOKS_DIR = tmp_path / "a-file" / "playbooks"
    response = as_admin.post("/playbooks/new/", {"name": "Web", "description": "", "content": GOOD})
    assert response.status_code == 200
    assert "is not a directory" in response.content.decode()
    assert not Playbook.objects.exists()


# --- a stale edit form -----------------------------------------------------------------


def test_a_stale_edit_form_does_not_revert_a_rename(as_admin, client, super_admin):
    playbook = PlaybookFactory(name="Web", content=GOOD)
    mine = edit_data(playbook, MINE)  # opened before the rename
    assert (
        as_admin.post(
            f"/playbooks/{playbook.pk}/edit/", edit_data(playbook, GOOD, name="Web frontends")
        ).status_code
        == 302
    )
    client.force_login(super_admin)
    response = client.post(f"/playbooks/{playbook.pk}/edit/", mine)
    text = response.content.decode()
    assert response.status_code == 200 and "Someone saved a newer version" in text
    assert "Web frontends" in text and "my careful edit" in text  # theirs beside mine
    playbook.refresh_from_db()
    assert playbook.name == "Web frontends" and playbook.read_content() == GOOD
    # A second save after the review is deliberate.
    again = {**mine, "base_fingerprint": response.context["form"].data["base_fingerprint"]}
    assert client.post(f"/playbooks/{playbook.pk}/edit/", again).status_code == 302
    playbook.refresh_from_db()
    assert playbook.name == "Web" and playbook.read_content() == MINE


def test_a_stale_edit_form_does_not_revert_a_new_description(as_admin):
    playbook = PlaybookFactory(content=GOOD, description="old words")
    stale = edit_data(playbook, GOOD)
    assert (
        as_admin.post(
            f"/playbooks/{playbook.pk}/edit/", edit_data(playbook, GOOD, description="new words")
        ).status_code
        == 302
    )
    response = as_admin.post(f"/playbooks/{playbook.pk}/edit/", stale)
    assert response.status_code == 200
    conflict = response.context["conflict"]
    assert conflict["fields"] == [("Description", "new words", "old words")]
    assert conflict["rows"] == []  # the content is the same: no diff to show
    playbook.refresh_from_db()
    assert playbook.description == "new words"


# --- a file that went missing ----------------------------------------------------------


def test_a_playbook_whose_file_is_missing_says_so_on_its_page(as_user, settings):
    playbook = PlaybookFactory(content=GOOD)
    playbook.absolute_path.unlink()
    text = as_user.get(f"/playbooks/{playbook.pk}/").content.decode()
    assert f"The file of playbook {playbook.name} is missing" in text
    assert str(Path(settings.PLAYBOOKS_DIR).resolve() / playbook.file_path) in text


def test_a_job_on_a_playbook_whose_file_is_missing_fails_saying_where_it_is_expected(
    inline_tasks, localhost, make_playbook, super_admin
):
    playbook = make_playbook(tasks_yaml("ansible.builtin.ping:"))
    playbook.absolute_path.unlink()
    with inline_tasks():
        job = job_launch(playbook=playbook, server=localhost, user=super_admin)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_message == (
        f"Cannot run: The file of playbook {playbook.name} is missing: it is expected at "
        f"{playbook.absolute_path}. Put the file back, or restore a version from its history."
    )
    assert "Empty playbook" not in job.error_message
