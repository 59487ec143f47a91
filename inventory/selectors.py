"""Reads of the inventory: the servers list and a server's metrics over a time range."""

from datetime import datetime

from django.db.models import Q, QuerySet

from inventory.models import Server, ServerMetric

# The servers list's sort parameter -> ORDER BY (the primary key breaks ties, so pages are stable).
SERVER_SORTS = {
    "hostname": "hostname",
    "-hostname": "-hostname",
    "ip": "ip_address",
    "-ip": "-ip_address",
    "cpu": "cpu_usage",
    "-cpu": "-cpu_usage",
    "memory": "memory_usage",
    "-memory": "-memory_usage",
    "disk": "disk_usage",
    "-disk": "-disk_usage",
    "monitored": "last_monitored",
    "-monitored": "-last_monitored",
}
SERVER_STATUSES = ("all", "active", "inactive")


def server_list(*, q: str = "", status: str = "all", sort: str = "hostname") -> QuerySet[Server]:
    """Servers whose hostname or address contains ``q``, of ``status`` (all, active,
    inactive), sorted by ``sort`` (a key of SERVER_SORTS; anything else sorts by hostname)."""
    servers = Server.objects.all()
    if q:
        servers = servers.filter(Q(hostname__icontains=q) | Q(ip_address__icontains=q))
    if status in ("active", "inactive"):
        servers = servers.filter(is_active=(status == "active"))
    return servers.order_by(SERVER_SORTS.get(sort, "hostname"), "pk")


def server_metric_samples(*, server: Server, start: datetime, end: datetime) -> QuerySet:
    """(collected_at, cpu, memory, disk) of ``server``'s samples from ``start`` to ``end``,
    oldest first: one range of the (server, collected_at) index."""
    return (
        ServerMetric.objects.filter(server=server, collected_at__gte=start, collected_at__lte=end)
        .values_list("collected_at", "cpu", "memory", "disk")
        .order_by("collected_at")
    )
