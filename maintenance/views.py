"""The live database report page for super_admins: the same report as ``manage.py db_report``."""

from django.shortcuts import render

from core.access import super_admin_required
from maintenance.dbreport import RECENT_DAYS, RECOMMENDED_INDEXES, build_report


@super_admin_required
def database_report(request):
    context = {
        "report": build_report(),
        "recent_days": RECENT_DAYS,
        "recommended_count": len(RECOMMENDED_INDEXES),
    }
    return render(request, "maintenance/database.html", context)
