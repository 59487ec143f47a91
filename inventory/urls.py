from django.urls import path

from infra_automation.views import coming_soon

urlpatterns = [
    path("servers/", coming_soon, {"title": "Servers", "issue": 3}, name="server_list"),
]
