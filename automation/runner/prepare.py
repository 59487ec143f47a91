"""The job's private directory, written before a run: the playbook snapshot, the inventory of
its hosts and groups (with a copy of each host's key and of known_hosts), the extra vars as a
file and the environment Ansible runs with.

The directory is fresh for every job and removed after it: ansible-runner reads back env/ files
from earlier runs (FIELD-NOTES), which would leak settings and keys between jobs.
"""

import json
import shutil
import sys

import yaml
from django.core.exceptions import ValidationError

from automation.runner import credentials as run_credentials
from inventory.keys import resolve_key_path
from inventory.models import ServerGroup
from inventory.ssh import known_hosts_locked


class UnsafeDumper(yaml.SafeDumper):
    """YAML with every string (keys too) tagged ``!unsafe``: Ansible never templates them."""


UnsafeDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("!unsafe", value, style='"')
)


def unsafe_yaml(value):
    """Extra vars as Ansible reads them: data at every depth, never templates."""
    return yaml.dump(value, Dumper=UnsafeDumper, allow_unicode=True, sort_keys=False)


def build_inventory(server, root):
    """Inventory for the one server (JSON is valid YAML for Ansible's yaml plugin)."""
    return {"all": {"hosts": {server.hostname: host_connection_vars(server, root)}}}


def build_job_inventory(job, root):
    """Inventory for ``job``: every targeted host (its job_hosts rows with a server) with its
    own variables and how it is reached, and every group with its variables, its targeted
    members and its child groups, as Ansible's YAML inventory has them. So ``hosts: web``,
    ``serial``, ``run_once``, ``groups['db'][0]`` and ``hostvars`` behave as in Ansible.

    Host variables: the server's ``variables``, then its connection (``host_connection_vars``,
    which wins). An SSH server is pinned to ``ansible_connection: ssh``: a group variable
    cannot turn it into a run on the controller (only a super admin makes a local server).
    Each host's key is written into the job's ``ssh/`` directory under a name of its own
    (``id_<server id>``), beside one copy of the known hosts; stored passwords go into
    ``inventory/host_vars/<host>.yml`` (automation/runner/credentials.py).
    Group and host variables are templated by Ansible, as in any inventory; extra vars never
    are (``unsafe_yaml``)."""
    servers = [row.server for row in job.hosts.all() if row.server is not None]
    if job.server_id and not servers:
        servers = [job.server]  # a job launched before job_hosts existed
    if inactive := sorted(s.hostname for s in servers if not s.is_active):
        raise ValidationError(
            f"{', '.join(inactive)} {'was' if len(inactive) == 1 else 'were'} deactivated after "
            "the job was queued; nothing ran. Launch it again on active servers."
        )
    hosts = {}
    for server in sorted(servers, key=lambda s: s.hostname):
        host_vars = dict(server.variables or {})
        if not server.is_local:
            host_vars["ansible_connection"] = "ssh"
        host_vars.update(host_connection_vars(server, root))
        hosts[server.hostname] = host_vars
    targeted = set(hosts)
    children = {}
    for group in ServerGroup.objects.prefetch_related("servers", "children").order_by("name"):
        entry = {}
        members = sorted(s.hostname for s in group.servers.all() if s.hostname in targeted)
        if members:
            entry["hosts"] = dict.fromkeys(members, None)
        if group.variables:
            entry["vars"] = group.variables
        if nested := sorted(child.name for child in group.children.all()):
            entry["children"] = dict.fromkeys(nested, None)
        children[group.name] = entry or None
    inventory = {"all": {"hosts": hosts}}
    if children:
        inventory["all"]["children"] = children
    return inventory


def job_ssh_dirs(job, root):
    """The known_hosts file the run may have added host keys to, with each server it may hold
    new keys for: (server, file) pairs (one file, shared by the job's hosts)."""
    rows = [row.server for row in job.hosts.all() if row.server is not None]
    if job.server_id and not rows:
        rows = [job.server]
    return [(server, root / "ssh" / "known_hosts") for server in rows]


def host_connection_vars(server, root):
    """How Ansible reaches ``server``: its host variables. An SSH server's key and the known
    host keys are copied into the job's directory: the sandbox shows the run nothing else of
    the app. Stored credentials (an SSH key or password, a become password) are written there
    too, as 0600 files (automation/runner/credentials.py); their values are remembered for
    masking and never appear in these variables."""
    run = run_credentials.for_run(root)
    if server.is_local:
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    else:
        key, known_hosts = _copy_ssh_files(server, root)
        host_vars = {
            "ansible_host": server.ip_address,
            "ansible_port": server.ssh_port,
            "ansible_user": server.ssh_user,
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={known_hosts} "
                "-o StrictHostKeyChecking=accept-new -o HashKnownHosts=no -o ConnectTimeout=10"
            ),
            "ansible_python_interpreter": "auto_silent",
        }
        if key is not None:
            host_vars["ansible_ssh_private_key_file"] = str(key)
        credential = server.credential
        if credential is not None and credential.username:
            host_vars["ansible_user"] = credential.username
    host_vars |= run_credentials.secret_host_vars(server, root, run)
    return host_vars


def _copy_ssh_files(server, root):
    """(key file or None for a password login, known_hosts copy) in the job's ``ssh/``
    directory, named per server: a run over several servers gives each its own key."""
    ssh_dir = root / "ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    key = ssh_dir / f"id_{server.pk}" if server.pk else ssh_dir / "id_key"
    credential = server.credential
    if credential is not None and credential.kind == credential.Kind.SSH_KEY:
        run_credentials.write_ssh_key(credential, key, run_credentials.for_run(root))
    elif credential is not None:
        key = None  # a password login (secret_host_vars writes ansible_password)
    else:
        source = resolve_key_path(server.ssh_key_path)
        key.touch(mode=0o600)
        shutil.copyfile(source, key)
    known_hosts = ssh_dir / "known_hosts"
    if not known_hosts.exists():
        with known_hosts_locked() as shared:
            if shared.exists():
                shutil.copyfile(shared, known_hosts)
            else:
                known_hosts.touch()
    return key, known_hosts


def project_playbook(job):
    """(snapshot directory, playbook path) of a project job, checked: the snapshot is on disk
    and the playbook is a file inside it. Raises ValidationError otherwise."""
    snapshot = job.project_snapshot
    if not snapshot.on_disk:
        raise ValidationError(
            f"revision {snapshot.short_revision} of project {snapshot.project.name} is no "
            "longer on disk (pruned); run the latest revision or sync this one again"
        )
    root = snapshot.absolute_path.resolve()
    playbook = (root / job.playbook_path).resolve()
    if not playbook.is_relative_to(root) or not playbook.is_file():
        raise ValidationError(
            f"{job.playbook_path} is not a file of revision {snapshot.short_revision}"
        )
    return root, job.playbook_path


def prepare(job, root):
    """Write the private data dir: the playbook (a copy of a single-file playbook; a project
    playbook runs in its read-only snapshot), inventory, extra vars (as a file). Returns the
    playbook's text. Raises ValidationError (the job fails with "Cannot run: ...") when the
    playbook's file is missing: it must not run as an empty playbook."""
    (root / "project").mkdir(parents=True)
    if job.project_snapshot_id:
        snapshot_dir, path = project_playbook(job)
        content = (snapshot_dir / path).read_text(encoding="utf-8", errors="replace")
    else:
        if missing := job.playbook.missing_file_message:
            raise ValidationError(missing)
        content = job.playbook.read_content()
        (root / "project" / "playbook.yml").write_text(content, encoding="utf-8")
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yml").write_text(json.dumps(build_job_inventory(job, root)))
    (root / "env").mkdir()
    # ansible-runner passes this file as -e @env/extravars: values never reach a command line.
    (root / "env" / "extravars").write_text(unsafe_yaml(job.extra_vars or {}), encoding="utf-8")
    (root / "env" / "extravars").chmod(0o600)
    (root / "home").mkdir()
    return content


def environment(root):
    """What Ansible runs with. Everything it keeps between tasks lives in the job's own
    directory, so nothing carries over from one job to another: above all the SSH control
    sockets. OpenSSH keeps a connection open for a minute after its last use (ControlPersist)
    and reuses it for any later ssh to the same address, port and user, whatever key that one
    names: a shared socket would let a job run with a key the server rejects, and make a key
    rotation take effect a minute late. The default directory (``~/.ansible/cp``) is per job
    only because the sandbox mounts the job's directory as home; naming it here keeps that
    true with the sandbox off or a different home."""
    return {
        "ANSIBLE_FORCE_COLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_HOME": str(root / "ansible_home"),
        # Short names: a unix socket's path is limited to 107 bytes.
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(root / "cp"),
        # Empty: Ansible's own short socket name (a hash of host, port and user) inside that
        # directory, even when the worker's environment names a control path of its own.
        "ANSIBLE_SSH_CONTROL_PATH": "",
        "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": str(root / "pc"),
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "True",
        "PYTHONUNBUFFERED": "1",
    }
