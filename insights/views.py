"""The dashboard (the state of the fleet and of recent jobs at a glance) and the analytics page.

The figures come from insights/analytics.py; these views only pick the period and the
viewer's time zone and render. Everyone logged in may see both pages.
"""

from django.contrib import messages
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from core.formatting import duration
from insights import analytics, charts

TOP_PLAYBOOKS_CHARTED = 5
# Long lists are cut to what a person reads at a glance; the page says how many were left out.
PLAYBOOK_ROWS = 20
IMPACT_PLAYBOOKS = 10


@require_safe
def dashboard(request):
    tz = timezone.get_current_timezone()
    running, running_total = analytics.running_jobs()
    context = analytics.dashboard_figures(tz=tz) | {
        "running": running,
        "running_total": running_total,
        "recent_jobs": analytics.recent_jobs(),
        "stale_servers": analytics.stale_servers(),
        "failing_servers": analytics.failing_servers(),
    }
    return render(request, "insights/dashboard.html", context)


@require_safe
@vary_on_headers("HX-Request")
def dashboard_running(request):
    """The live "running jobs" block: the dashboard includes it and polls this URL for it."""
    running, running_total = analytics.running_jobs()
    context = {"running": running, "running_total": running_total}
    return render(request, "insights/partials/dashboard_running.html", context)


@require_safe
def analytics_page(request):
    days, error = analytics.parse_period(request.GET.get("period"))
    if error:
        messages.warning(request, error)
    period = analytics.period(days)
    versions = analytics.version_counts(period)
    playbooks = analytics.playbook_summary(period, versions)
    charted = [p for p in playbooks if p["runs"]][:TOP_PLAYBOOKS_CHARTED]
    trends = analytics.duration_trends(period, [p["playbook_id"] for p in charted])
    servers = analytics.top_servers(period)
    # Playbooks whose version changed in the period (flagged ones first): the ones to look at.
    grid = analytics.heatmap(period, timezone.get_current_timezone())
    impact = [p for p in analytics.change_impact(period, versions) if len(p["versions"]) > 1]
    context = {
        "period": period,
        "periods": analytics.PERIODS,
        "playbooks": [p | {"bar": charts.status_bar(p)} for p in playbooks[:PLAYBOOK_ROWS]],
        "playbooks_left_out": max(len(playbooks) - PLAYBOOK_ROWS, 0),
        "most_used": [
            p | {"bar": charts.count_bar(p["runs"], playbooks[0]["runs"])} for p in playbooks[:10]
        ],
        "durations": [
            {
                "name": p["name"],
                "chart": charts.duration_chart(trends[p["playbook_id"]]),
                "top": duration(
                    max((d[3] for d in trends[p["playbook_id"]] if d[3] is not None), default=None)
                ),
            }
            for p in charted
        ],
        "servers": [s | {"bar": charts.count_bar(s["runs"], servers[0]["runs"])} for s in servers],
        "heatmap": charts.heatmap_chart(grid),
        "heatmap_peak": max(max(row) for row in grid),
        "failures": analytics.top_failures(period),
        "people": analytics.user_activity(period),
        "impact": impact[:IMPACT_PLAYBOOKS],
        "impact_left_out": len(impact[IMPACT_PLAYBOOKS:]),
        "impact_rule": (analytics.IMPACT_MIN_RUNS, analytics.IMPACT_MIN_DROP),
    }
    return render(request, "insights/analytics.html", context)
