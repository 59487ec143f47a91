from django.urls import path

from accounts.access import admin_required
from infra_automation.views import coming_soon

urlpatterns = [
    path(
        "audit/", admin_required(coming_soon), {"title": "Audit log", "issue": 6}, name="audit_list"
    ),
]
