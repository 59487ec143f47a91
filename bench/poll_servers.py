"""Benchmark: poll 1 vs 50 server rows (all pointing at one loopback sshd) with poll_servers.

Target: the 50-server poll takes at most 3x the 1-server poll (concurrency, not 50x).
Run: .venv/bin/python bench/poll_servers.py   (DATABASE_URL optional; default a scratch SQLite)
"""

import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, django_setup  # noqa: E402

scratch = django_setup("poll")
sys.path.insert(0, str(ROOT))

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from inventory.models import Server, ServerMetric  # noqa: E402
from tests.sshd import SshServer  # noqa: E402


def poll_time(count, sshd):
    Server.objects.all().delete()
    Server.objects.bulk_create(
        Server(
            hostname=f"bench{i:03d}.test",
            ip_address=sshd.host,
            ssh_port=sshd.port,
            ssh_user=sshd.user,
            ssh_key_path=sshd.key_name,
        )
        for i in range(count)
    )
    started = time.monotonic()
    call_command("poll_servers", stdout=io.StringIO())
    elapsed = time.monotonic() - started
    stored = ServerMetric.objects.filter(server__hostname__startswith="bench").count()
    assert stored == count, f"expected {count} samples, got {stored}"
    return elapsed


def main():
    sshd = SshServer(root=scratch / "sshd", key_dir=Path(settings.SSH_KEYS_DIR)).start()
    try:
        poll_time(1, sshd)  # warm-up: host key trusted on first use, imports loaded
        one = min(poll_time(1, sshd) for _ in range(3))
        fifty = min(poll_time(50, sshd) for _ in range(3))
    finally:
        sshd.stop()
    ratio = fifty / one
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    print(f"poll 1 server:   {one:.2f} s")
    print(f"poll 50 servers: {fifty:.2f} s")
    print(f"ratio 50/1:      {ratio:.2f}x (target <= 3x) {'OK' if ratio <= 3 else 'MISS'}")


if __name__ == "__main__":
    main()
