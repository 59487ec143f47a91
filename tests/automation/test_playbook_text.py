"""What is saved is what was given, read as Ansible reads it: Ansible's YAML tags accepted,
the text stored byte for byte (line endings aside), readable errors, and warnings (not
refusals) for files a single-file playbook cannot have."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from auditing.models import AuditLog
from automation import storage, validation
from automation.models import Job, JobLog, Playbook
from automation.services import playbooks as services
from automation.services.jobs import job_launch

pytestmark = pytest.mark.django_db

VAULTED = """\
- name: Vaulted
  hosts: all
  gather_facts: false
  vars:
    db_password: !vault |
      $ANSIBLE_VAULT;1.1;AES256
      62313365396662343061393464336163383764373764613633653634306231386433626436623361
      6134333665353966363534333632666535333761666131620a663537646436643839616531643561
      3438626666666137650a353638643435666633633964366338633066623234616432373231333331
    old_style: !vault-encrypted |
      $ANSIBLE_VAULT;1.1;AES256
      6134333665353966363534333632666535333761666131620a663537646436643839616531643561
    literal: !unsafe "{{ not a template }}"
    literal_list: !unsafe ["{{ a }}", "{{ b }}"]
  tasks:
    - name: Show the literal
      ansible.builtin.debug: {msg: "{{ literal }}"}
"""
# Tabs inside a literal block (a heredoc), trailing spaces, CRLF line endings, no final newline.
HEREDOC = (
    "- name: Heredoc\r\n"
    "  hosts: all\r\n"
    "  gather_facts: false\r\n"
    "  tasks:\r\n"
    "    - name: Print a tab-indented heredoc   \r\n"
    "      ansible.builtin.shell: |\r\n"
    "        cat <<EOF\r\n"
    "        \tone tab\r\n"
    "        \t\ttwo tabs, two trailing spaces  \r\n"
    "        EOF\r\n"
    "      register: printed\r\n"
    "    - name: Show it\r\n"
    "      ansible.builtin.debug:\r\n"
    "        var: printed.stdout_lines"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def create(client, content, name="Text"):
    return client.post("/playbooks/new/", {"name": name, "description": "", "content": content})


def stored_bytes(playbook):
    playbook.refresh_from_db()
    return storage.resolve(playbook.file_path).read_bytes()


def upload(data, name="p.yml"):
    return SimpleUploadedFile(name, data, content_type="application/x-yaml")


# --- Ansible's own tags ------------------------------------------------------------------


def test_a_playbook_with_inline_vault_and_unsafe_values_is_saved(as_admin):
    response = create(as_admin, VAULTED)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Playbook.objects.get().read_content() == VAULTED


def test_the_loader_reads_ansible_tags_as_ansible_does():
    play = validation.check_structure(VAULTED)[0]
    assert isinstance(play["vars"]["db_password"], validation.Vaulted)
    assert play["vars"]["db_password"].startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert play["vars"]["literal"] == "{{ not a template }}"
    assert play["vars"]["literal_list"] == ["{{ a }}", "{{ b }}"]


def test_a_vault_tag_on_a_list_is_refused_as_ansible_refuses_it():
    with pytest.raises(ValidationError, match="the !vault tag requires a string value"):
        validation.check_structure("- hosts: all\n  vars:\n    x: !vault [1, 2]\n")


def test_an_unknown_tag_is_still_refused():
    with pytest.raises(ValidationError, match="could not determine a constructor"):
        validation.check_structure("- hosts: all\n  vars:\n    x: !python/object:os.system ls\n")


def test_aliases_under_an_unsafe_tag_are_still_bounded():
    laughs = '- hosts: all\n  vars:\n    a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    for level in range(1, 7):
        laughs += (
            f"    {'b' * level}: !unsafe &{'b' * level} ["
            + ",".join([f"*{'b' * (level - 1) or 'a'}"] * 10)
            + "]\n"
        )
    with pytest.raises(ValidationError, match="YAML aliases are limited"):
        validation.check_structure(laughs)


def test_change_summaries_read_vaulted_playbooks():
    summary = services.change_summary(VAULTED, VAULTED + "    - name: Another\n      ping:\n")
    assert "tasks added: Another" in summary


def test_the_check_does_not_load_ansible_into_the_web_process():
    probe = (
        "import sys, django; django.setup(); import automation.validation, automation.forms; "
        "assert 'ansible' not in sys.modules, sorted(m for m in sys.modules if 'ansible' in m)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "infra_automation.settings", **os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


# --- the text is stored as given -----------------------------------------------------------


def test_create_stores_exactly_the_text_given_with_only_line_endings_normalised(as_admin):
    assert create(as_admin, HEREDOC).status_code == 302
    assert stored_bytes(Playbook.objects.get()) == HEREDOC.replace("\r\n", "\n").encode()


def test_edit_stores_exactly_the_text_given(as_admin):
    create(as_admin, "- hosts: all\n  tasks: []\n")
    playbook = Playbook.objects.get()
    form = as_admin.get(f"/playbooks/{playbook.pk}/edit/").context["form"]
    old_mac = HEREDOC.replace("\r\n", "\r")  # classic Mac line endings become \n too
    response = as_admin.post(
        f"/playbooks/{playbook.pk}/edit/",
        {
            "name": "Text",
            "description": "",
            "content": old_mac,
            "base_fingerprint": form.initial["base_fingerprint"],
        },
    )
    assert response.status_code == 302
    assert stored_bytes(playbook) == HEREDOC.replace("\r\n", "\n").encode()


def test_upload_and_replace_store_exactly_the_file_given_less_its_bom(as_admin):
    data = "\ufeff".encode() + HEREDOC.encode()
    response = as_admin.post(
        "/playbooks/upload/", {"name": "Up", "description": "", "file": upload(data)}
    )
    assert response.status_code == 302
    playbook = Playbook.objects.get()
    assert stored_bytes(playbook) == HEREDOC.replace("\r\n", "\n").encode()
    replacement = HEREDOC.replace("one tab", "one tab, replaced").encode()
    base = as_admin.get(f"/playbooks/{playbook.pk}/replace/").context["form"].initial
    response = as_admin.post(
        f"/playbooks/{playbook.pk}/replace/",
        {"file": upload(replacement), "base_sha256": base["base_sha256"]},
    )
    assert response.status_code == 302
    assert stored_bytes(playbook) == replacement.replace(b"\r\n", b"\n")


def _heredoc_lines(text):
    """The debug output lines that show the heredoc's lines, colours and indentation gone."""
    return [ANSI.sub("", line).strip() for line in text.splitlines() if "tab" in line]


def test_a_job_prints_the_heredoc_exactly_as_ansible_playbook_does(
    as_admin, localhost, super_admin, inline_tasks, tmp_path
):
    create(as_admin, HEREDOC)
    playbook = Playbook.objects.get()
    with inline_tasks():
        job = job_launch(playbook=playbook, server=localhost, user=super_admin)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCESS, job.error_message
    console = "\n".join(JobLog.objects.filter(job=job).values_list("content", flat=True))

    direct_file = tmp_path / "heredoc.yml"
    direct_file.write_bytes(HEREDOC.encode())  # what the user gave, CRLF and all
    direct = subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", "localhost,", "-c", "local"]
        + [str(direct_file)],
        env={
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "ANSIBLE_HOME": str(tmp_path / "ansible_home"),
            "ANSIBLE_NOCOLOR": "1",
            "LC_ALL": "C.UTF-8",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert direct.returncode == 0, direct.stdout + direct.stderr
    expected = ['"\\tone tab",', '"\\t\\ttwo tabs, two trailing spaces  "']
    assert _heredoc_lines(direct.stdout)[-2:] == expected
    assert _heredoc_lines(console)[-2:] == expected


# --- readable errors ---------------------------------------------------------------------


def test_a_missing_role_is_named_with_readable_search_paths(as_admin):
    text = create(
        as_admin, "- hosts: all\n  gather_facts: false\n  roles:\n    - missing_role_xyz\n"
    ).content.decode()
    assert "the role &#x27;missing_role_xyz&#x27; was not found in roles:~/.ansible/roles:" in text
    assert "/roles:/roles:" not in text and "/tmp/" not in text and "/syntax-" not in text


def test_a_missing_handlers_file_is_named_readably(as_admin):
    text = create(
        as_admin,
        "- hosts: all\n  gather_facts: false\n  handlers:\n"
        "    - ansible.builtin.import_tasks: handlers/handlers.yml\n",
    ).content.decode()
    assert "&#x27;handlers/handlers.yml&#x27;" in text
    assert "/handlers/handlers.yml" not in text and "/tmp/" not in text


def test_a_directory_is_replaced_only_where_it_starts_a_whole_path():
    scratch = Path("/tmp/syntax-abc")
    output = (
        "not found in /tmp/syntax-abc/roles:/tmp/syntax-abc/ansible_home/roles:"
        "/usr/share/ansible/roles:/tmp/syntax-abc; also /tmp/syntax-abcd/x, "
        "/srv/tmp/syntax-abc/y and '/tmp/syntax-abc/playbook.yml'"
    )
    shown = [(scratch / "ansible_home", "~/.ansible"), (scratch, "")]
    assert validation._readable_paths(output, shown) == (
        "not found in roles:~/.ansible/roles:/usr/share/ansible/roles:.; also "
        "/tmp/syntax-abcd/x, /srv/tmp/syntax-abc/y and 'playbook.yml'"
    )


# --- warnings ----------------------------------------------------------------------------

REFERENCES = """\
- name: Files
  hosts: all
  gather_facts: false
  vars_files:
    - vars/common.yml
    - ["vars/{{ env }}.yml", vars/default.yml]
    - "{{ templated }}.yml"
    - /etc/absolute.yml
  pre_tasks:
    - name: Motd
      ansible.builtin.template: {src: motd.j2, dest: /etc/motd}
  tasks:
    - block:
        - name: Config
          copy: src=app.conf dest=/etc/app.conf
      rescue:
        - name: Vars
          include_vars: extra.yml
      always:
        - name: Remote copy
          ansible.builtin.copy: {src: /srv/x, dest: /y, remote_src: true}
        - name: Inline
          ansible.builtin.copy: {content: "x", dest: /y}
  handlers:
    - name: More vars
      ansible.builtin.include_vars: {file: handlers_vars.yml}
"""


def test_a_single_file_playbook_is_warned_about_every_relative_file():
    warnings = validation.playbook_warnings(REFERENCES)
    assert warnings == [
        f"Play 1: vars_files entry '{name}' not found: {validation.NO_FILES_BESIDE}."
        for name in ("vars/common.yml",)
    ] + [
        f"Play 1, task {task!r}: {what} '{name}' not found: {validation.NO_FILES_BESIDE}."
        for task, what, name in (
            ("Motd", "ansible.builtin.template src", "motd.j2"),
            ("Config", "copy src", "app.conf"),
            ("Vars", "include_vars file", "extra.yml"),
            ("More vars", "ansible.builtin.include_vars file", "handlers_vars.yml"),
        )
    ]


def test_files_beside_the_playbook_are_found_where_ansible_looks(tmp_path):
    for name in ("vars/common.yml", "templates/motd.j2", "app.conf", "vars/extra.yml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    warnings = validation.playbook_warnings(REFERENCES, base_dir=tmp_path)
    assert warnings == [
        "Play 1, task 'More vars': ansible.builtin.include_vars file 'handlers_vars.yml' "
        "not found (looked in vars/ and beside the playbook)."
    ]


def test_a_reference_leading_out_of_the_project_is_not_looked_for(tmp_path):
    text = "- hosts: all\n  vars_files: [../../../etc/hostname]\n"
    assert validation.playbook_warnings(text, base_dir=tmp_path) == [
        "Play 1: vars_files entry '../../../etc/hostname' is outside the project."
    ]


def test_warnings_are_shown_after_a_save_that_still_happens(as_admin):
    before = AuditLog.objects.count()
    content = (
        "- hosts: all\n  gather_facts: false\n  vars_files: [vars/common.yml]\n"
        "  tasks:\n    - name: Motd\n      ansible.builtin.template: {src: motd.j2, dest: /m}\n"
    )
    response = create(as_admin, content)
    assert response.status_code == 302
    assert Playbook.objects.get().read_content() == content
    page = as_admin.get(response.url)
    shown = [(m.level_tag, m.message) for m in page.context["messages"]]
    assert shown == [
        ("success", "Playbook Text created."),
        (
            "warning",
            f"Play 1: vars_files entry 'vars/common.yml' not found: {validation.NO_FILES_BESIDE}.",
        ),
        (
            "warning",
            f"Play 1, task 'Motd': ansible.builtin.template src 'motd.j2' not found: "
            f"{validation.NO_FILES_BESIDE}.",
        ),
    ]
    assert "msg-warning" in page.content.decode()
    new_rows = AuditLog.objects.order_by("pk")[before:]
    assert not any("not found" in str(row.__dict__) for row in new_rows)
