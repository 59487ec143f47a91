from django.urls import path

from automation import views_dashboard
from automation.views_database import database_report
from infra_automation.views import coming_soon

urlpatterns = [
    # Dashboard and analytics
    path("", views_dashboard.dashboard, name="dashboard"),
    # Playbooks
    path("playbooks/", coming_soon, {"title": "Playbooks", "issue": 4}, name="playbook_list"),
    path(
        "playbooks/history/",
        coming_soon,
        {"title": "Playbook history", "issue": 4},
        name="playbook_history_all",
    ),
    # Jobs
    path("jobs/", coming_soon, {"title": "Jobs", "issue": 5}, name="job_list"),
    # Maintenance
    path("database/", database_report, name="database_report"),
]
