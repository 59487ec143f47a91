"""Create the demo admin, a localhost server, two sample playbooks and a demo project
(idempotent)."""

import getpass
import io
import os
import secrets
import tarfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from auditing.context import audit_context
from automation.models import Playbook, Project
from automation.services.playbooks import playbook_create
from automation.services.projects import project_create
from inventory.models import Server

PING_PLAYBOOK = """\
- name: Ping and read the kernel version
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the connection
      ansible.builtin.ping:

    - name: Read the kernel version
      ansible.builtin.command: uname -sr
      register: kernel
      changed_when: false

    - name: Show it
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} runs {{ kernel.stdout }}"
"""

DISK_PLAYBOOK = """\
- name: Report disk usage
  hosts: all
  gather_facts: false
  tasks:
    - name: Measure the root filesystem
      ansible.builtin.command: df -hP /
      register: df
      changed_when: false

    - name: Show the report
      ansible.builtin.debug:
        var: df.stdout_lines
"""

# A small project with a role, a vars file and a template: uploaded as an archive, so it needs
# no network and no Git server.
DEMO_PROJECT = {
    "site.yml": """\
- name: Demo project
  hosts: all
  gather_facts: false
  vars_files:
    - vars/main.yml
  roles:
    - motd
""",
    "vars/main.yml": "team: operations\n",
    "roles/motd/tasks/main.yml": """\
- name: Render the message of the day into the run's home
  ansible.builtin.template:
    src: motd.j2
    dest: "{{ lookup('env', 'HOME') }}/motd"
    mode: "0644"

- name: Show it
  ansible.builtin.debug:
    msg: "{{ lookup('file', lookup('env', 'HOME') + '/motd') }}"
""",
    "roles/motd/templates/motd.j2": "Welcome to {{ inventory_hostname }}, run by {{ team }}.\n",
}


def demo_archive():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in DEMO_PROJECT.items():
            data = text.encode()
            info = tarfile.TarInfo(f"demo-project/{name}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return SimpleUploadedFile("demo-project.tar.gz", buffer.getvalue())


DEMO_PLAYBOOKS = [
    ("Ping and kernel version", "Checks the connection and prints the kernel.", PING_PLAYBOOK),
    ("Disk usage report", "Prints df for the root filesystem.", DISK_PLAYBOOK),
]


class Command(BaseCommand):
    help = (
        "Create the demo data a first run needs: a super_admin 'admin' (password from "
        "DEMO_ADMIN_PASSWORD, or generated and printed once), a 'localhost' server that runs "
        "with Ansible's local connection, two sample playbooks and a demo project (an archive "
        "with a role; its first sync runs on the worker). Safe to run again."
    )

    def handle(self, *args, **options):
        with audit_context(source="command"), transaction.atomic():
            self._admin()
            self._server()
            for name, description, content in DEMO_PLAYBOOKS:
                if not Playbook.objects.filter(name=name).exists():
                    playbook_create(name=name, description=description, content=content, user=None)
                    self.stdout.write(f"Created playbook {name!r}.")
            if not Project.objects.filter(name="Demo project").exists():
                admin = User.objects.get(username="admin")
                project_create(
                    user=admin,
                    name="Demo project",
                    description="A role, a vars file and a template, from an archive.",
                    kind=Project.Kind.ARCHIVE,
                    archive=demo_archive(),
                )
                self.stdout.write("Created project 'Demo project' (syncs on the worker).")

    def _admin(self):
        if User.objects.filter(username="admin").exists():
            self.stdout.write("Demo admin 'admin' exists; password unchanged.")
            return
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_user(
            username="admin",
            email="admin@example.com",
            password=password,
            role=User.Role.SUPER_ADMIN,
        )
        if os.environ.get("DEMO_ADMIN_PASSWORD"):
            self.stdout.write("Created super_admin 'admin' with DEMO_ADMIN_PASSWORD.")
        else:
            self.stdout.write(
                self.style.WARNING(
                    f"Created super_admin 'admin' with password: {password}  (shown once)"
                )
            )

    def _server(self):
        _, created = Server.objects.get_or_create(
            hostname="localhost",
            defaults={
                "ip_address": "127.0.0.1",
                "ssh_port": 22,
                "ssh_user": getpass.getuser(),
                "connection": Server.Connection.LOCAL,
                "os_type": "Linux",
            },
        )
        if created:
            self.stdout.write("Created server 'localhost' (Ansible local connection).")
