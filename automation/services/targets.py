"""What a job runs on: its hosts resolved from a server, groups or a list of servers, and the
checks on ``--limit``, ``--forks``, a project inventory file and overlapping runs.

Each check raises a ValidationError a person can act on; the launch (``job_launch``) calls them
before it writes anything.
"""

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from django.core.exceptions import ValidationError

from automation.models import Job, JobHost, Playbook, ProjectSnapshot
from inventory.models import Server, ServerGroup
from inventory.selectors import group_member_ids

FORKS_MAX = 50
LIMIT_MAX = 500
# Ansible host patterns: names, wildcards, ranges, ":" "," unions, "&" intersections, "!"
# exclusions, "~" regexes. The value reaches ansible-playbook as one argument (never a shell);
# "@file" (read hosts from a file of the controller) is refused.
LIMIT_PATTERN = re.compile(r"^[A-Za-z0-9_.\-*?:,&!\[\]~^$()|+ ]+$")
# Inventory files a project may hold: INI or YAML.
INVENTORY_SUFFIXES = {"", ".ini", ".yml", ".yaml", ".cfg", ".txt"}


def resolve_hosts(
    *, server: Server | None, servers: Iterable[Server], groups: Iterable[ServerGroup]
) -> list[Server]:
    """The servers a launch targets, by hostname: ``server``, ``servers`` and the members of
    ``groups`` (nested groups included). Inactive servers are refused when named; a group's
    inactive members are left out (deactivated servers are no longer used). A group with no
    active server is refused."""
    named = [server] if server is not None else []
    named += list(servers)
    for host in named:
        if not host.is_active:
            raise ValidationError(f"Server {host.hostname} is inactive and cannot run jobs.")
    hosts = {host.pk: host for host in named}
    for group in groups:
        members = Server.objects.filter(pk__in=group_member_ids([group.pk]), is_active=True)
        found = list(members)
        if not found:
            raise ValidationError(
                f"Group {group.name} has no active servers: add servers to it, or choose "
                "another target."
            )
        hosts.update((host.pk, host) for host in found)
    return sorted(hosts.values(), key=lambda host: host.hostname)


def validate_limit(limit: str | None) -> str:
    """A --limit pattern, checked; '' for none."""
    limit = (limit or "").strip()
    if not limit:
        return ""
    if len(limit) > LIMIT_MAX:
        raise ValidationError(f"A limit is at most {LIMIT_MAX} characters.")
    if limit.startswith(("@", "-")) or not LIMIT_PATTERN.match(limit):
        raise ValidationError(
            "A limit is an Ansible host pattern: host or group names, wildcards (*), "
            "':' or ',' between patterns, '&' to intersect, '!' to exclude, '~' for a regex "
            "(no '@file')."
        )
    return limit


def validate_forks(forks: int | None) -> int | None:
    if forks is None:
        return None
    if not 1 <= forks <= FORKS_MAX:
        raise ValidationError(f"Forks is a number from 1 to {FORKS_MAX}.")
    return forks


def inventory_files(snapshot: ProjectSnapshot | None) -> list[str]:
    """Paths (relative to the snapshot) that look like inventory files: files under
    ``inventory/`` or ``inventories/``, ``hosts`` and ``*.ini`` anywhere (not hidden)."""
    if snapshot is None or not snapshot.on_disk:
        return []
    root = snapshot.absolute_path.resolve()
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        top = relative.parts[0]
        if (
            (top in ("inventory", "inventories") and path.suffix in INVENTORY_SUFFIXES)
            or path.name in ("hosts", "hosts.yml", "hosts.yaml", "hosts.ini")
            or path.suffix == ".ini"
        ):
            found.append(str(relative))
    return sorted(found)[:200]


def validate_inventory_path(path: str | None, *, snapshot: ProjectSnapshot | None) -> str:
    """A project inventory file: a relative path to a file inside ``snapshot``; '' for none."""
    path = (path or "").strip()
    if not path:
        return ""
    if snapshot is None:
        raise ValidationError("Only a project playbook can use an inventory file of its project.")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\x00" in path:
        raise ValidationError(f"{path} is not a path inside the project.")
    root = snapshot.absolute_path.resolve()
    real = (root / Path(path)).resolve()
    if not real.is_relative_to(root) or not real.is_file():
        raise ValidationError(
            f"Revision {snapshot.short_revision} of the project has no inventory file {path}."
        )
    return str(pure)


def overlapping_job(playbook: Playbook, hosts: Iterable[Server], *, exclude: Job | None = None):
    """A running job of ``playbook`` on one of ``hosts``, or None."""
    server_ids = [host.pk for host in hosts]
    if not server_ids:
        return None
    running = JobHost.objects.filter(
        server_id__in=server_ids, job__playbook=playbook, job__status=Job.Status.RUNNING
    )
    if exclude is not None:
        running = running.exclude(job=exclude)
    row = running.select_related("job").order_by("job_id").first()
    return row.job if row else None


def check_overlap(playbook: Playbook, hosts: Iterable[Server]) -> None:
    """With ``host_overlap = refuse``: no launch on a host a running job of the playbook is
    on. (With ``wait`` the job is created and waits for its turn: automation/tasks.py.)"""
    if playbook.host_overlap != Playbook.HostOverlap.REFUSE:
        return
    hosts = list(hosts)
    job = overlapping_job(playbook, hosts)
    if job is not None:
        names = sorted(
            set(job.hosts.values_list("hostname", flat=True)) & {h.hostname for h in hosts}
        )
        raise ValidationError(
            f"Job {job.job_id} of {playbook.name} is running on {', '.join(names)}; this "
            "playbook refuses overlapping runs. Launch again when it has finished."
        )
