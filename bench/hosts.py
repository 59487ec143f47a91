"""Benchmark: one job on a group of 20 hosts (20 loopback sshd, each its own host) through the
platform vs bare ``ansible-playbook`` on the same inventory, in interleaved pairs.

Platform = launch on the group (commit) -> a real qcluster worker runs it in the sandbox ->
success with every line and every host's stats stored. Bare = ``ansible-playbook -i <the same
hosts, YAML> --forks 20`` with the same key. Prints each pair and the median wall ratio.
Run: .venv/bin/python bench/hosts.py [--pairs N] [--hosts N]  (DATABASE_URL optional: scratch
SQLite). Needs sshd (scripts/system-deps.sh) and the ``infra-target`` account (--test).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import django_setup  # noqa: E402

django_setup("hosts")
from _jobs import BIN, QCluster, demo_objects  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import transaction  # noqa: E402

from automation.models import Job  # noqa: E402
from automation.services.jobs import job_launch  # noqa: E402
from automation.services.playbooks import playbook_create  # noqa: E402
from inventory.models import Server, ServerGroup  # noqa: E402
from tests.conftest import TARGET_USER  # noqa: E402
from tests.sshd import SshServer  # noqa: E402

PLAYBOOK = """\
- name: Fleet
  hosts: fleet
  gather_facts: false
  tasks:
    - name: Uptime
      ansible.builtin.command: cat /proc/uptime
    - name: Say
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} in {{ group_names | join(',') }}"
"""


def start_fleet(count, root):
    root.chmod(0o755)  # sshd reads authorized_keys as infra-target
    return [
        SshServer(root=root / f"h{i}", key_dir=root / "keys", user=TARGET_USER).start()
        for i in range(count)
    ]


def bare_run(fleet, workdir):
    inventory = {
        "fleet": {
            "hosts": {
                f"bench-host-{i:02d}": {
                    "ansible_host": "127.0.0.1",
                    "ansible_port": sshd.port,
                    "ansible_user": TARGET_USER,
                    "ansible_ssh_private_key_file": str(sshd.key_path),
                    "ansible_ssh_common_args": "-o StrictHostKeyChecking=no "
                    "-o UserKnownHostsFile=/dev/null",
                    "ansible_python_interpreter": "auto_silent",
                }
                for i, sshd in enumerate(fleet)
            }
        }
    }
    (workdir / "hosts.yml").write_text(json.dumps(inventory))
    (workdir / "playbook.yml").write_text(PLAYBOOK)
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(home / "cp"),
        "ANSIBLE_FORCE_COLOR": "1",
    }
    started = time.monotonic()
    subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "-i",
            str(workdir / "hosts.yml"),
            "--forks",
            str(len(fleet)),
            str(workdir / "playbook.yml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )
    return time.monotonic() - started


def platform_run(playbook, group, user, count):
    with transaction.atomic():
        job = job_launch(playbook=playbook, groups=[group], user=user, forks=count)
    started = time.monotonic()
    while True:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.05)
    wall = time.monotonic() - started
    assert job.status == Job.Status.SUCCESS, job.error_message
    assert job.hosts.filter(ok=2).count() == count
    return wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-hosts-"))
    fleet = start_fleet(args.hosts, root)
    try:
        settings.SSH_KEYS_DIR = fleet[0].key_dir
        os.environ["SSH_KEYS_DIR"] = str(fleet[0].key_dir)  # for the worker process
        user, _ = demo_objects()
        group, _ = ServerGroup.objects.get_or_create(name="fleet")
        servers = []
        for i, sshd in enumerate(fleet):
            server, _ = Server.objects.update_or_create(
                hostname=f"bench-host-{i:02d}",
                defaults={
                    "ip_address": "127.0.0.1",
                    "ssh_port": sshd.port,
                    "ssh_user": TARGET_USER,
                    "ssh_key_path": sshd.key_name,
                    "is_active": True,
                },
            )
            servers.append(server)
        group.servers.set(servers)
        playbook = playbook_create(
            name=f"bench-hosts-{time.time()}", description="", content=PLAYBOOK, user=None
        )
        pairs = []
        with QCluster():
            platform_run(playbook, group, user, args.hosts)  # warm-up (host keys learned)
            bare_run(fleet, root)
            for n in range(args.pairs):
                bare = bare_run(fleet, root)
                platform = platform_run(playbook, group, user, args.hosts)
                pairs.append((bare, platform))
                print(
                    f"pair {n + 1}: bare {bare:.2f} s, platform {platform:.2f} s, "
                    f"ratio {platform / bare:.2f}"
                )
        bares, platforms = zip(*pairs, strict=True)
        ratios = [p / b for b, p in pairs]
        bare, platform = statistics.median(bares), statistics.median(platforms)
        print(
            f"{args.hosts} hosts, {args.pairs} interleaved pairs: bare median {bare:.2f} s, "
            f"platform median {platform:.2f} s, ratio median {statistics.median(ratios):.2f} "
            f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
        )
    finally:
        for sshd in fleet:
            sshd.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
