from django.urls import path

from automation import views_dashboard
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
]
