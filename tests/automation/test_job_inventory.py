"""One job on many hosts, against real sshd instances on loopback: each its own host (own port,
own host key), logging in as ``infra-target``. Groups with variables, nesting, ``serial``,
``run_once``, ``groups[...]``, an unreachable host, ``--limit``, plays that match nothing and a
project's own inventory file."""

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from automation.models import Job, JobHost, JobLog
from automation.services.jobs import job_launch, job_relaunch
from inventory import services as inventory
from tests.automation.conftest import tasks_yaml
from tests.conftest import TARGET_USER
from tests.factories import ServerFactory
from tests.sshd import SshServer, free_port

pytestmark = pytest.mark.django_db

HOSTS = ("web1", "web2", "db1")


@pytest.fixture(scope="module")
def fleet_servers():
    """Three sshd processes (web1, web2, db1), sharing one client key; self-contained (their
    own directories and free ports), stopped at the end of the module."""
    root = Path(tempfile.mkdtemp(prefix="sshd-fleet-"))  # outside the 0700 pytest tree
    root.chmod(0o755)  # sshd reads authorized_keys as infra-target
    keys = root / "keys"
    started = {}
    try:
        for name in HOSTS:
            started[name] = SshServer(root=root / name, key_dir=keys, user=TARGET_USER).start()
        yield started
    finally:
        for server in started.values():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fleet(fleet_servers, settings, admin):
    """Servers web1, web2, db1 (each its own sshd) and groups: webservers (web1, web2) and db
    (db1), both children of prod, which sets ``greeting``; webservers sets ``port_name``."""
    settings.SSH_KEYS_DIR = next(iter(fleet_servers.values())).key_dir
    servers = {
        name: ServerFactory(
            hostname=name,
            ip_address="127.0.0.1",
            ssh_port=sshd.port,
            ssh_user=TARGET_USER,
            ssh_key_path=sshd.key_name,
            variables={"role_name": f"role-of-{name}"},
        )
        for name, sshd in fleet_servers.items()
    }

    def group(name, members=(), children=(), variables=None):
        return inventory.group_create(
            actor=admin,
            name=name,
            description="",
            variables=variables or {},
            servers=[servers[m] for m in members],
            children=children,
        )

    web = group("webservers", ["web1", "web2"], variables={"port_name": "http"})
    db = group("db", ["db1"])
    prod = group("prod", children=[web, db], variables={"greeting": "hello-from-prod"})
    return servers, {"webservers": web, "db": db, "prod": prod}


def console(job):
    return [
        line
        for line in JobLog.objects.filter(job=job)
        .order_by("line_number")
        .values_list("content", flat=True)
    ]


def plain(lines):
    return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in lines)


def stats(job):
    return {
        row.hostname: {
            name: getattr(row, name) for name in ("ok", "changed", "failed", "unreachable")
        }
        for row in JobHost.objects.filter(job=job)
    }


PLAYS = """\
- name: Rolling
  hosts: webservers
  serial: 1
  gather_facts: false
  tasks:
    - name: Who
      ansible.builtin.command: whoami
      register: who
    - name: Say
      ansible.builtin.debug:
        msg: "serial {{ inventory_hostname }} as {{ who.stdout }} port {{ port_name }}"
- name: Once
  hosts: all
  gather_facts: false
  tasks:
    - name: Only one
      ansible.builtin.debug:
        msg: "once from {{ inventory_hostname }}"
      run_once: true
    - name: Facts of the inventory
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }} greets {{ greeting }}; first db {{ db }}; var {{ var }}"
      vars:
        db: "{{ groups['db'][0] }}"
        var: "{{ hostvars['db1'].role_name }}"
"""


def test_a_job_on_a_nested_group_runs_every_play_as_ansible_does(
    launch, fleet, admin, make_playbook
):
    servers, groups = fleet
    job = launch(playbook=make_playbook(PLAYS), groups=[groups["prod"]], user=admin, forks=3)
    text = plain(console(job))
    assert job.status == Job.Status.SUCCESS, (job.error_message, text)
    assert job.server_id is None and list(job.target_groups.all()) == [groups["prod"]]
    # serial: 1 -- web1's whole batch (both tasks) before web2's starts.
    order = [m.group(1) for m in re.finditer(r"serial (web\d) as (\S+)", text)]
    assert order == ["web1", "web2"], text
    assert f"serial web1 as {TARGET_USER} port http" in text  # over SSH, with the group's var
    # run_once: one result for the task, whatever the number of hosts.
    assert len(re.findall(r"once from \w+", text)) == 1
    for host in HOSTS:
        assert f"{host} greets hello-from-prod; first db db1; var role-of-db1" in text
    result = stats(job)
    # Who + Say + Facts on web1 and web2, Facts on db1, and the one run_once result.
    assert sum(counts["ok"] for counts in result.values()) == 3 + 3 + 1 + 1, result
    assert {host: counts["changed"] for host, counts in result.items()} == {
        "web1": 1,
        "web2": 1,
        "db1": 0,
    }
    assert {row.hostname: row.server for row in job.hosts.all()} == {
        name: servers[name] for name in HOSTS
    }
    # Each console line of a host's result names the host: the page filters by it.
    web2_lines = plain(
        JobLog.objects.filter(job=job, host="web2").values_list("content", flat=True)
    )
    assert "serial web2" in web2_lines and "web1" not in web2_lines


def test_one_unreachable_host_does_not_stop_the_others(launch, fleet, admin, make_playbook):
    servers, _ = fleet
    down = ServerFactory(
        hostname="down1",
        ip_address="127.0.0.1",
        ssh_port=free_port(),  # nothing listens there
        ssh_user=TARGET_USER,
        ssh_key_path=servers["web1"].ssh_key_path,
    )
    playbook = make_playbook(tasks_yaml("ansible.builtin.command: hostname"))
    job = launch(playbook=playbook, servers=[servers["web1"], down, servers["db1"]], user=admin)
    assert job.status == Job.Status.FAILED
    result = stats(job)
    assert result["down1"]["unreachable"] == 1 and result["down1"]["ok"] == 0
    assert result["web1"] == {"ok": 1, "changed": 1, "failed": 0, "unreachable": 0}
    assert result["db1"] == {"ok": 1, "changed": 1, "failed": 0, "unreachable": 0}
    assert "down1" in job.error_message


def test_a_limit_narrows_the_run_and_one_that_matches_nothing_says_so(
    launch, fleet, admin, make_playbook
):
    _, groups = fleet
    playbook = make_playbook(tasks_yaml("ansible.builtin.ping:"))
    job = launch(playbook=playbook, groups=[groups["prod"]], limit="web*:!web2", user=admin)
    assert job.status == Job.Status.SUCCESS, job.error_message
    ran = {host for host, counts in stats(job).items() if counts["ok"]}
    assert ran == {"web1"}
    nothing = launch(playbook=playbook, groups=[groups["prod"]], limit="nosuchhost", user=admin)
    assert nothing.status == Job.Status.FAILED
    assert nothing.error_message.startswith(
        "The limit 'nosuchhost' matches none of the job's hosts: nothing ran."
    ), nothing.error_message


def test_a_play_that_matches_no_host_is_not_a_plain_success(
    launch, fleet, admin, make_playbook, as_admin
):
    servers, groups = fleet
    playbook = make_playbook(
        "- hosts: webservers\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"
    )
    job = launch(playbook=playbook, groups=[groups["db"]], user=admin)
    assert job.status == Job.Status.FAILED
    assert job.error_message.startswith("No hosts matched: play"), job.error_message
    assert job.matched_no_hosts
    page = as_admin.get(job.get_absolute_url()).content.decode()
    assert 'id="no-hosts-warning"' in page
    # One play matched, another did not: a success, marked so nobody misses the second.
    two = make_playbook(
        "- hosts: db\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"
        "- hosts: webservers\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n"
    )
    partly = launch(playbook=two, groups=[groups["db"]], user=admin)
    assert partly.status == Job.Status.SUCCESS and partly.matched_no_hosts
    page = as_admin.get(partly.get_absolute_url()).content.decode()
    assert "Success — no hosts matched" in page


def test_the_job_page_lists_every_host_and_filters_the_console_by_host(
    launch, fleet, admin, make_playbook, as_user
):
    _, groups = fleet
    job = launch(
        playbook=make_playbook(
            tasks_yaml("ansible.builtin.debug: msg=hi-{{ inventory_hostname }}")
        ),
        groups=[groups["webservers"]],
        user=admin,
    )
    page = as_user.get(job.get_absolute_url()).content.decode()
    assert 'id="host-stats"' in page and 'id="host-web1"' in page and 'id="host-web2"' in page
    filtered = as_user.get(job.get_absolute_url() + "?host=web2").content.decode()
    assert "hi-web2" in filtered and "hi-web1" not in filtered


def test_a_relaunch_of_a_group_job_runs_on_the_group_again(
    launch, fleet, admin, make_playbook, inline_tasks
):
    _, groups = fleet
    job = launch(
        playbook=make_playbook(tasks_yaml("ansible.builtin.ping:")),
        groups=[groups["db"]],
        user=admin,
    )
    with inline_tasks():
        again = job_relaunch(job=job, user=admin)
    again.refresh_from_db()
    assert again.status == Job.Status.SUCCESS
    assert list(again.target_groups.all()) == [groups["db"]]
    assert list(again.hosts.values_list("hostname", flat=True)) == ["db1"]


def test_bad_targets_are_refused_before_anything_is_written(fleet, admin, make_playbook):
    servers, groups = fleet
    playbook = make_playbook(tasks_yaml("ansible.builtin.ping:"))
    empty = inventory.group_create(
        actor=admin, name="empty", description="", variables={}, servers=[], children=[]
    )
    cases = [
        ({"groups": [empty]}, "Group empty has no active servers"),
        ({}, "Choose a target"),
        ({"servers": [servers["web1"]], "limit": "@/etc/passwd"}, "host pattern"),
        ({"servers": [servers["web1"]], "limit": "web1; rm -rf /"}, "host pattern"),
        ({"servers": [servers["web1"]], "forks": 0}, "Forks"),
        ({"servers": [servers["web1"]], "inventory_path": "hosts"}, "Only a project playbook"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError, match=message):
            job_launch(playbook=playbook, user=admin, **kwargs)
    assert not Job.objects.exists() and not JobHost.objects.exists()


def test_a_server_deactivated_while_its_job_waits_fails_the_job_clearly(
    fleet, admin, make_playbook, inline_tasks, django_capture_on_commit_callbacks
):
    servers, groups = fleet
    playbook = make_playbook(tasks_yaml("ansible.builtin.ping:"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_launch(playbook=playbook, groups=[groups["webservers"]], user=admin)
    servers["web2"].is_active = False
    servers["web2"].save()
    with inline_tasks():
        for callback in callbacks:
            callback()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "web2 was deactivated after the job was queued" in job.error_message
