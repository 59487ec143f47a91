"""Reads of the inventory: the servers list and a server's metrics over a time range."""

from datetime import datetime

from django.db.models import Count, Q, QuerySet

from inventory.models import Server, ServerGroup, ServerMetric

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


def server_list(
    *,
    q: str = "",
    status: str = "all",
    sort: str = "hostname",
    group: ServerGroup | None = None,
) -> QuerySet[Server]:
    """Servers whose hostname or address contains ``q``, of ``status`` (all, active,
    inactive), members of ``group`` (directly or through its child groups), sorted by ``sort``
    (a key of SERVER_SORTS; anything else sorts by hostname)."""
    servers = Server.objects.all()
    if group is not None:
        servers = servers.filter(pk__in=group_member_ids([group.pk]))
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


def group_list() -> QuerySet[ServerGroup]:
    """Every group with its direct member and child counts (one query)."""
    return ServerGroup.objects.annotate(
        server_count=Count("servers", distinct=True), child_count=Count("children", distinct=True)
    ).order_by("name")


def group_choices() -> list[ServerGroup]:
    return list(ServerGroup.objects.only("id", "name").order_by("name"))


def group_from_param(value: str | None, groups: list[ServerGroup]) -> ServerGroup | None:
    """The group ``?group=<id>`` names among ``groups``; None for anything else."""
    return next((g for g in groups if str(g.pk) == (value or "").strip()), None)


def group_descendant_ids(group_ids: list[int]) -> set[int]:
    """``group_ids`` and every group nested below them (the edge list is read once)."""
    edges: dict[int, list[int]] = {}
    for parent, child in ServerGroup.children.through.objects.values_list(
        "from_servergroup_id", "to_servergroup_id"
    ):
        edges.setdefault(parent, []).append(child)
    seen: set[int] = set()
    stack = list(group_ids)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return seen


def group_member_ids(group_ids: list[int]) -> set[int]:
    """Ids of the servers in ``group_ids`` directly or through nested groups."""
    return set(
        ServerGroup.servers.through.objects.filter(
            servergroup_id__in=group_descendant_ids(group_ids)
        ).values_list("server_id", flat=True)
    )
