"""Root URL map: each app owns its own urls module."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("inventory.urls")),
    path("", include("automation.urls")),
    path("", include("auditing.urls")),
    path("", include("insights.urls")),
    path("", include("maintenance.urls")),
]

handler400 = "infra_automation.views.bad_request"
handler403 = "infra_automation.views.permission_denied"
handler404 = "infra_automation.views.page_not_found"
handler500 = "infra_automation.views.server_error"
