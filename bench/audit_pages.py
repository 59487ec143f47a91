"""Benchmark: the audit page stays as fast with many rows as with few (keyset, no COUNT).

Fills a dedicated database with audit rows in two steps (SMALL, then LARGE in all), and at each
size times the audit page (first page, a deep page, filtered pages) through the real view, and
the CSV export's rows per second. Prints queries per page and the LARGE/SMALL time ratio per page:
a ratio near 1 means the page cost does not grow with the table. Nothing is asserted on time.

    DATABASE_URL=mysql://root@127.0.0.1:3306/ia_bench_audit \\
        /work/main/.venv/bin/python bench/audit_pages.py --small 5000 --large 500000

The database named in DATABASE_URL is migrated and its audit rows are replaced: never point it
at real data.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra_automation.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from auditing.models import AuditLog  # noqa: E402

ACTIONS = ["UPDATE"] * 60 + ["CREATE"] * 15 + ["RUN"] * 15 + ["LOGIN"] * 9 + ["DELETE"]
TYPES = ["server", "playbook", "job", "user"]


def fill(count, users, start_id):
    """Append ``count`` rows spread over the last year, oldest first (ids follow time)."""
    now = timezone.now()
    batch = []
    for i in range(count):
        kind = random.choice(TYPES)
        batch.append(
            AuditLog(
                user_id=random.choice(users),
                action=random.choice(ACTIONS),
                resource_type=kind,
                resource_id=str(random.randint(1, 5000)),
                details={"changes": {"os_version": {"old": f"6.{i % 9}", "new": f"6.{i % 7}"}}},
                ip_address=f"10.{i % 250}.{i % 200}.{i % 240 + 1}",
                user_agent="bench/1.0",
                timestamp=now - timedelta(seconds=(count - i) * 30 + start_id),
            )
        )
        if len(batch) == 5000:
            AuditLog.objects.bulk_create(batch)
            batch = []
    AuditLog.objects.bulk_create(batch)


def timed(client, url, repeat=5):
    times = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times), len(queries.captured_queries) // repeat


def export_rate(client, url):
    started = time.perf_counter()
    response = client.get(url)
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    return lines, lines / (time.perf_counter() - started)


def measure(client):
    lowest = AuditLog.objects.order_by("id").values_list("id", flat=True).first()
    pages = {
        "first page": "/audit/",
        "deep page (oldest rows)": f"/audit/?before={lowest + 60}",
        "action=DELETE (1%)": "/audit/?action=DELETE",
        "resource server 42": "/audit/?resource_type=server&resource_id=42",
        "last 7 days": "/audit/?date_from="
        + (timezone.localdate() - timedelta(days=7)).isoformat(),
        "text in details (common)": "/audit/?q=6.3",
        # The worst case: a text no row holds scans the whole table (LIKE '%...%').
        "text in details (absent)": "/audit/?q=no-such-text",
    }
    results = {name: timed(client, url) for name, url in pages.items()}
    started = time.perf_counter()
    total = AuditLog.objects.count()
    count_time = time.perf_counter() - started
    return results, total, count_time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--large", type=int, default=300_000)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    AuditLog.objects.all().delete()
    viewer, _ = User.objects.get_or_create(
        username="bench-admin",
        defaults={"email": "bench@example.com", "role": User.Role.SUPER_ADMIN},
    )
    users = [viewer.pk, None]
    client = Client()
    client.force_login(viewer)
    print(f"database: {connection.vendor} {settings.DATABASES['default']['NAME']}")

    fill(args.small, users, 0)
    small, small_total, small_count = measure(client)
    started = time.perf_counter()
    fill(args.large - small_total, users, args.small)
    elapsed = time.perf_counter() - started
    print(f"inserted {args.large - small_total:,} more rows in {elapsed:.1f}s")
    large, large_total, large_count = measure(client)

    print(f"\n{'page':28} {'queries':>7} {small_total:>10,} rows {large_total:>10,} rows  ratio")
    print(f"{'':28} {'(s/l)':>7}")
    for name in small:
        (t_small, q_small), (t_large, q_large) = small[name], large[name]
        queries = f"{q_small}/{q_large}"
        print(
            f"{name:28} {queries:>7} {t_small * 1000:>11.1f} ms"
            f" {t_large * 1000:>11.1f} ms  {t_large / t_small:5.2f}"
        )
    print(
        f"{'(for scale) SELECT COUNT(*)':28} {'':>7} {small_count * 1000:>11.1f} ms"
        f" {large_count * 1000:>11.1f} ms  {large_count / max(small_count, 1e-9):5.2f}"
    )
    lines, rate = export_rate(client, "/audit/export.csv?action=UPDATE")
    print(f"\nCSV export action=UPDATE: {lines:,} rows at {rate:,.0f} rows/s (streamed)")


if __name__ == "__main__":
    main()
