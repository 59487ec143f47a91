"""Maintenance pages: the live database report for super_admins, ``/healthz`` for load
balancers and supervisors (no login), and ``/metrics`` for Prometheus (no login; an address
allow-list or a bearer token instead)."""

import hmac
import ipaddress

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from auditing.context import client_ip
from core.access import super_admin_required
from maintenance.dbreport import RECENT_DAYS, build_report, declared_indexes
from maintenance.health import health
from maintenance.metrics import REGISTRY


@super_admin_required
def database_report(request):
    context = {
        "report": build_report(),
        "recent_days": RECENT_DAYS,
        "recommended_count": len(declared_indexes()),
    }
    return render(request, "maintenance/database.html", context)


def metrics_allowed(request) -> bool:
    """A scraper from METRICS_ALLOWED_IPS (addresses or networks), or one that presents
    METRICS_TOKEN as a bearer token."""
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and presented and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    address = client_ip(request)
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in settings.METRICS_ALLOWED_NETWORKS)


@login_not_required
@require_GET
def metrics(request):
    if not metrics_allowed(request):
        return HttpResponse(
            "Forbidden: scrape from METRICS_ALLOWED_IPS or send the METRICS_TOKEN bearer token.\n",
            status=403,
            content_type="text/plain",
        )
    # The classic text format (0.0.4): what every Prometheus release parses; our names need
    # nothing newer.
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)


@login_not_required
@require_GET
@never_cache
def healthz(request):
    """200 when the database, the broker, a worker and the disk are fine; 503 otherwise, with
    the failing check named."""
    report = health()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
