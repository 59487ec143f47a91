"""Server actions beyond plain edits: the connection test and polling the fleet."""

from concurrent.futures import ThreadPoolExecutor, as_completed

from inventory import metrics, ssh
from inventory.models import Server


def server_test_connection(*, server):
    """Connect, run ``uname -sr`` and fill os_type/os_version when they are empty.

    Returns (ok, message). The os fields are saved with save() so the change is audited.
    """
    try:
        output = ssh.run_on(server, "uname -sr").strip()
    except ssh.SshError as exc:
        Server.objects.filter(pk=server.pk).update(last_error=str(exc)[:2000])
        return False, f"Connection failed: {exc}"
    os_type, _, os_version = output.partition(" ")
    changed = []
    if not server.os_type and os_type:
        server.os_type = os_type[: Server._meta.get_field("os_type").max_length]
        changed.append("os_type")
    if not server.os_version and os_version:
        server.os_version = os_version[: Server._meta.get_field("os_version").max_length]
        changed.append("os_version")
    if changed:
        server.save(update_fields=[*changed, "updated_at"])
    Server.objects.filter(pk=server.pk).update(last_error="")
    return True, f"Connected: {output}"


def servers_poll(*, servers, max_workers=16):
    """Sample many servers at once and store each result as soon as it arrives.

    The network work runs in a bounded thread pool; the database writes happen here, in the
    calling thread, so worker threads never hold database connections and a dead host only
    costs its own connect timeout. Returns {server: Sample}.
    """
    servers = list(servers)
    results = {}
    if not servers:
        return results
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(servers)))) as pool:
        futures = {pool.submit(metrics.sample, server): server for server in servers}
        for future in as_completed(futures):
            server = futures[future]
            result = future.result()
            metrics.store(server, result)
            results[server] = result
    return results
