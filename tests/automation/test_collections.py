"""The community collections (the `ansible` package) come with the app: playbooks using them
pass the save check and run in the sandbox, which sees them read-only."""

import importlib.util
from pathlib import Path

import pytest

from automation.models import Job, JobLog, Playbook
from automation.services.jobs import job_launch
from tests.automation.conftest import tasks_yaml

pytestmark = pytest.mark.django_db

FLEET_PLAYBOOK = """\
- name: Harden
  hosts: all
  become: true
  tasks:
    - name: Allow SSH
      community.general.ufw: {rule: allow, name: OpenSSH}
    - name: Open HTTPS
      ansible.posix.firewalld: {service: https, permanent: true, state: enabled}
    - name: Deploy key
      ansible.posix.authorized_key: {user: deploy, key: "ssh-ed25519 AAAAC3Nza deploy@x"}
    - name: UTC
      community.general.timezone: {name: Etc/UTC}
"""


def collection_dir(name):
    spec = importlib.util.find_spec(f"ansible_collections.{name}")
    assert spec and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def test_a_playbook_using_community_collections_is_saved(as_admin):
    response = as_admin.post(
        "/playbooks/new/", {"name": "Harden", "description": "", "content": FLEET_PLAYBOOK}
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Playbook.objects.get().read_content() == FLEET_PLAYBOOK


def test_a_job_runs_collection_modules_and_filters_in_the_sandbox(
    localhost, make_playbook, super_admin, inline_tasks
):
    general = collection_dir("community.general")
    playbook = make_playbook(
        tasks_yaml(
            "name: Write an ini file\n"
            "      community.general.ini_file:\n"
            "        path: /tmp/collections-test.ini\n"
            "        section: app\n"
            "        option: colour\n"
            "        value: blue",
            "name: Read it back\n"
            "      ansible.builtin.debug:\n"
            "        msg: \"{{ lookup('ansible.builtin.file', '/tmp/collections-test.ini') }}\"",
            "name: Use a collection filter\n"
            "      ansible.builtin.debug:\n"
            "        msg: \"{{ 'blue' | community.general.dict_kv('colour') }}\"",
            "name: Try to change the collection\n"
            f"      ansible.builtin.command: touch {general}/written-by-a-job\n"
            "      register: touched\n"
            "      failed_when: touched.rc == 0",
            "name: Show why\n      ansible.builtin.debug: {var: touched.stderr}",
        )
    )
    with inline_tasks():
        job = job_launch(playbook=playbook, server=localhost, user=super_admin)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    console = "\n".join(JobLog.objects.filter(job=job).values_list("content", flat=True))
    assert "[app]" in console and "colour = blue" in console
    assert '"colour": "blue"' in console
    assert "Read-only file system" in console  # bound read-only, not merely not ours
    assert not (general / "written-by-a-job").exists()
    assert not Path("/tmp/collections-test.ini").exists()  # the sandbox's /tmp was private
