"""The dashboard: the state of the fleet and of recent jobs at a glance."""

from django.db.models import Count
from django.shortcuts import render

from automation.models import Job, Playbook
from inventory.models import Server


def dashboard(request):
    status_counts = dict(Job.objects.values_list("status").annotate(n=Count("id")).order_by())
    context = {
        "active_servers": Server.objects.filter(is_active=True).count(),
        "active_playbooks": Playbook.objects.filter(is_active=True).count(),
        "job_counts": [(label, status_counts.get(value, 0)) for value, label in Job.Status.choices],
        "recent_jobs": Job.objects.select_related("playbook", "server", "user").order_by(
            "-created_at"
        )[:10],
    }
    return render(request, "automation/dashboard.html", context)
