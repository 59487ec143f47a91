"""Create the demo admin, a localhost server and two sample playbooks (idempotent)."""

import getpass
import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import User
from auditing.context import audit_context
from automation.models import Playbook
from automation.services.playbooks import playbook_create
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

DEMO_PLAYBOOKS = [
    ("Ping and kernel version", "Checks the connection and prints the kernel.", PING_PLAYBOOK),
    ("Disk usage report", "Prints df for the root filesystem.", DISK_PLAYBOOK),
]


class Command(BaseCommand):
    help = (
        "Create the demo data a first run needs: a super_admin 'admin' (password from "
        "DEMO_ADMIN_PASSWORD, or generated and printed once), a 'localhost' server that runs "
        "with Ansible's local connection, and two sample playbooks. Safe to run again."
    )

    def handle(self, *args, **options):
        with audit_context(source="command"), transaction.atomic():
            self._admin()
            self._server()
            for name, description, content in DEMO_PLAYBOOKS:
                if not Playbook.objects.filter(name=name).exists():
                    playbook_create(name=name, description=description, content=content, user=None)
                    self.stdout.write(f"Created playbook {name!r}.")

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
