"""Resource usage of a server: CPU, memory and root-disk percentages.

One command does the whole sample, over SSH or on the controller for a local server: /proc/stat
read twice half a second apart (CPU busy share between the two reads), MemAvailable/MemTotal
from /proc/meminfo, and ``df -P /``.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from inventory import ssh
from inventory.models import Server, ServerMetric

SAMPLE_COMMAND = (
    "head -n1 /proc/stat; sleep 0.5; head -n1 /proc/stat; "
    "grep -E '^(MemTotal|MemAvailable):' /proc/meminfo; df -P /"
)


@dataclass
class Sample:
    cpu: float | None = None
    memory: float | None = None
    disk: float | None = None
    error: str = ""

    @property
    def ok(self):
        return not self.error


def parse_sample(output):
    """Percentages from SAMPLE_COMMAND's output; raises ValueError on output it can't read."""
    lines = output.splitlines()
    cpu_lines = [line.split() for line in lines if line.startswith("cpu ")]
    if len(cpu_lines) != 2:
        raise ValueError("expected two 'cpu' lines from /proc/stat")
    first, second = ([int(v) for v in fields[1:]] for fields in cpu_lines)
    total = sum(second) - sum(first)
    # idle + iowait are the not-busy columns (4th and 5th).
    idle = (second[3] + second[4]) - (first[3] + first[4])
    cpu = 0.0 if total <= 0 else 100.0 * (total - idle) / total

    mem = {}
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            mem[name] = int(rest.split()[0])
    if mem.get("MemTotal", 0) <= 0 or "MemAvailable" not in mem:
        raise ValueError("MemTotal/MemAvailable missing from /proc/meminfo")
    memory = 100.0 * (mem["MemTotal"] - mem["MemAvailable"]) / mem["MemTotal"]

    df_index = next(i for i, line in enumerate(lines) if line.startswith("Filesystem"))
    fields = " ".join(lines[df_index + 1 :]).split()
    used, available = int(fields[2]), int(fields[3])
    disk = 0.0 if used + available == 0 else 100.0 * used / (used + available)
    return tuple(round(min(max(v, 0.0), 100.0), 1) for v in (cpu, memory, disk))


def sample(server):
    """Take one sample of ``server``; never raises: failures come back in ``error``."""
    try:
        output = ssh.run_on(server, SAMPLE_COMMAND)
    except ssh.SshError as exc:
        return Sample(error=str(exc))
    try:
        cpu, memory, disk = parse_sample(output)
    except (ValueError, IndexError, StopIteration) as exc:
        return Sample(error=f"could not read the metrics output: {exc}")
    return Sample(cpu=cpu, memory=memory, disk=disk)


def store(server, result, *, at=None):
    """Save a sample: the server row's current figures and one server_metrics row.

    QuerySet.update on purpose: a poll is monitoring data, not an edit, so it does not go
    through the audit receivers (the metrics table is its own history). A failure keeps the
    last good figures and records the error.
    """
    at = at or timezone.now()
    rows = Server.objects.filter(pk=server.pk)
    if not result.ok:
        rows.update(last_error=result.error[:2000])
        server.last_error = result.error
        return
    with transaction.atomic():
        rows.update(
            cpu_usage=result.cpu,
            memory_usage=result.memory,
            disk_usage=result.disk,
            last_monitored=at,
            last_error="",
        )
        ServerMetric.objects.create(
            server=server,
            cpu=result.cpu,
            memory=result.memory,
            disk=result.disk,
            collected_at=at,
        )
    server.cpu_usage, server.memory_usage, server.disk_usage = (
        result.cpu,
        result.memory,
        result.disk,
    )
    server.last_monitored, server.last_error = at, ""


def collect(server):
    """Sample ``server`` and store the result; returns the Sample."""
    result = sample(server)
    store(server, result)
    return result
