"""check_project_playbook: a playbook inside a project's snapshot, checked with real
ansible-playbook in the sandbox as if run from the snapshot root."""

import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from automation.validation import check_project_playbook

SITE = """\
- name: Site
  hosts: "{{ 'ALL' | lowered }}"
  gather_facts: false
  vars_files:
    - vars/common.yml
  roles:
    - common
  tasks:
    - name: Motd
      ansible.builtin.template: {src: motd.j2, dest: /tmp/motd}
    - name: Extra
      ansible.builtin.import_tasks: tasks/extra.yml
  handlers:
    - ansible.builtin.import_tasks: handlers/handlers.yml
"""
WEB = """\
- name: Web, from a subdirectory
  hosts: all
  gather_facts: false
  roles:
    - web
"""
FILES = {
    # roles_path is relative to the ansible.cfg: snapshot/myroles
    "ansible.cfg": "[defaults]\nroles_path = ./myroles\n",
    "site.yml": SITE,
    "roles/common/tasks/main.yml": "- ansible.builtin.debug: {msg: common}\n",
    "templates/motd.j2": "Welcome to {{ inventory_hostname }}\n",
    "vars/common.yml": "greeting: hello\n",
    "tasks/extra.yml": "- ansible.builtin.debug: {msg: extra}\n",
    "handlers/handlers.yml": "- name: Restart\n  ansible.builtin.debug: {msg: restart}\n",
    "filter_plugins/lowered.py": (
        "class FilterModule:\n"
        "    def filters(self):\n"
        "        return {'lowered': lambda value: value.lower()}\n"
    ),
    "myroles/web/tasks/main.yml": "- ansible.builtin.debug: {msg: web}\n",
    "playbooks/web.yml": WEB,
}


@pytest.fixture
def snapshot(tmp_path):
    """A project on disk, readable by the sandbox's run-as user (pytest's tmp_path is 0700)."""
    root = tmp_path / "snapshot"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    for directory in (tmp_path, root):
        directory.chmod(0o755)
    return root


def test_a_project_playbook_with_its_roles_files_and_plugins_passes(snapshot):
    assert check_project_playbook(snapshot, "site.yml") == []


def test_a_playbook_in_a_subdirectory_uses_the_root_ansible_cfg(snapshot):
    # "web" lives only in ./myroles, which the root's ansible.cfg names: as if
    # `ansible-playbook playbooks/web.yml` ran from the snapshot root.
    assert check_project_playbook(snapshot, "playbooks/web.yml") == []


def test_without_the_ansible_cfg_the_role_is_not_found(snapshot):
    (snapshot / "ansible.cfg").unlink()
    with pytest.raises(ValidationError, match="the role 'web' was not found"):
        check_project_playbook(snapshot, "playbooks/web.yml")


def test_a_missing_role_fails_with_paths_relative_to_the_snapshot(snapshot):
    (snapshot / "site.yml").write_text(SITE.replace("- common", "- no_such_role"))
    with pytest.raises(ValidationError) as caught:
        check_project_playbook(snapshot, "site.yml")
    message = caught.value.messages[0]
    assert "the role 'no_such_role' was not found in " in message
    assert "myroles:" in message and "Origin: site.yml:7:7" in message
    assert "    - no_such_role" in message  # the project's own file is quoted
    assert (
        str(snapshot) not in message and "/tmp/" not in message and "/roles:/roles" not in message
    )


def test_a_missing_vars_file_is_a_warning(snapshot):
    (snapshot / "vars/common.yml").unlink()
    assert check_project_playbook(snapshot, "site.yml") == [
        "Play 1: vars_files entry 'vars/common.yml' not found."
    ]


def test_an_unparsable_playbook_is_refused_with_its_name(snapshot):
    (snapshot / "playbooks/web.yml").write_text("- hosts: all\n  tasks: [\n")
    with pytest.raises(ValidationError, match=r"^\[.playbooks/web.yml: YAML error at line 3"):
        check_project_playbook(snapshot, "playbooks/web.yml")


@pytest.mark.parametrize(
    "playbook, message",
    [
        ("/etc/passwd", "not a playbook path inside the project"),
        ("../outside.yml", "not a playbook path inside the project"),
        ("playbooks/../../outside.yml", "not a playbook path inside the project"),
        ("", "not a playbook path inside the project"),
        ("missing.yml", "missing.yml: no such file in the project"),
        ("link.yml", "link.yml: a link that leads outside the project"),
    ],
)
def test_paths_outside_the_snapshot_are_refused(snapshot, tmp_path, playbook, message):
    (tmp_path / "outside.yml").write_text("- hosts: all\n  tasks: []\n")
    (snapshot / "link.yml").symlink_to(tmp_path / "outside.yml")
    with pytest.raises(ValidationError, match=message):
        check_project_playbook(snapshot, playbook)


def test_the_snapshot_is_read_only_during_the_check(snapshot):
    (snapshot / "site.yml").write_text(
        "- hosts: \"{{ lookup('pipe', 'touch written-by-check; echo all') }}\"\n  tasks: []\n"
    )
    check_project_playbook(snapshot, "site.yml")
    assert not (snapshot / "written-by-check").exists()


def test_the_environment_given_adds_roles_from_outside_the_snapshot(snapshot, tmp_path):
    installed = tmp_path / "installed_roles"
    (installed / "from_galaxy/tasks").mkdir(parents=True)
    (installed / "from_galaxy/tasks/main.yml").write_text("- ansible.builtin.debug: {msg: x}\n")
    for directory in (installed, *installed.rglob("*")):
        if directory.is_dir():
            directory.chmod(0o755)
    (snapshot / "site.yml").write_text(WEB.replace("- web", "- from_galaxy"))
    with pytest.raises(ValidationError, match="the role 'from_galaxy' was not found"):
        check_project_playbook(snapshot, "site.yml")
    roles_path = os.pathsep.join([str(installed), str(snapshot / "myroles")])
    env = {"ANSIBLE_ROLES_PATH": roles_path, "SECRET_KEY": "not passed on"}
    assert check_project_playbook(snapshot, "site.yml", env=env) == []


def test_a_symlinked_snapshot_path_is_shown_relative_too(snapshot, tmp_path):
    link = tmp_path / "current"
    link.symlink_to(snapshot)
    (snapshot / "site.yml").write_text(WEB.replace("- web", "- absent"))
    with pytest.raises(ValidationError) as caught:
        check_project_playbook(Path(link), "site.yml")
    assert str(snapshot) not in caught.value.messages[0]
    assert str(link) not in caught.value.messages[0]
