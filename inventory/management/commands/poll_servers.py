"""Poll active servers for CPU, memory and disk usage (the one-minute schedule runs this)."""

import time

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Server, ServerGroup
from inventory.selectors import group_member_ids
from inventory.services import servers_poll


class Command(BaseCommand):
    help = (
        "Sample CPU, memory and disk of every active server concurrently (bounded thread pool) "
        "and store them in servers and server_metrics. One dead host only costs its own "
        "timeout. Failures are recorded on each server; when every server failed the command "
        "exits non-zero (the controller's network or keys are likely at fault, not the hosts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--server", metavar="HOSTNAME", help="poll only this server")
        parser.add_argument(
            "--group",
            metavar="NAME",
            help="poll only the active servers of this group (nested groups included)",
        )
        parser.add_argument(
            "--workers", type=int, default=32, help="concurrent connections (1-256, default 32)"
        )

    def handle(self, *args, server=None, group=None, workers=32, **options):
        if not 1 <= workers <= 256:
            raise CommandError("--workers must be between 1 and 256.")
        servers = Server.objects.filter(is_active=True)
        if server is not None:
            servers = Server.objects.filter(hostname=server.strip().lower())
            if not servers.exists():
                raise CommandError(f"No server with hostname {server!r}.")
        if group is not None:
            found = ServerGroup.objects.filter(name=group.strip()).first()
            if found is None:
                raise CommandError(f"No group named {group!r}.")
            servers = servers.filter(pk__in=group_member_ids([found.pk]))
            if not servers.exists():
                raise CommandError(f"Group {found.name} has no active servers to poll.")
        started = time.monotonic()
        results = servers_poll(servers=servers, max_workers=workers)
        failed = 0
        for srv, result in sorted(results.items(), key=lambda item: item[0].hostname):
            if result.ok:
                self.stdout.write(
                    f"{srv.hostname}: cpu {result.cpu}% mem {result.memory}% disk {result.disk}%"
                )
            else:
                failed += 1
                self.stdout.write(f"{srv.hostname}: FAILED {result.error}")
        self.stdout.write(
            f"Done. Polled {len(results)} servers ({failed} failed) "
            f"in {time.monotonic() - started:.2f} s."
        )
        if results and failed == len(results):
            raise CommandError(f"Every server failed ({failed} of {len(results)}).")
