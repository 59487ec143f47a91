from django.urls import path

from inventory import views

urlpatterns = [
    path("servers/", views.server_list, name="server_list"),
    path("servers/new/", views.server_create, name="server_new"),
    path("servers/<int:pk>/", views.server_detail, name="server_detail"),
    path("servers/<int:pk>/edit/", views.server_edit, name="server_edit"),
    path("servers/<int:pk>/delete/", views.server_delete, name="server_delete"),
    path(
        "servers/<int:pk>/toggle-active/", views.server_toggle_active, name="server_toggle_active"
    ),
    path("servers/<int:pk>/metrics/", views.server_metrics, name="server_metrics"),
    path("servers/<int:pk>/chart/", views.server_chart, name="server_chart"),
    path("servers/<int:pk>/refresh/", views.server_refresh, name="server_refresh"),
    path("servers/<int:pk>/test/", views.server_test, name="server_test"),
    path(
        "servers/<int:pk>/forget-host-key/",
        views.server_forget_host_key,
        name="server_forget_host_key",
    ),
    path("credentials/", views.credential_list, name="credential_list"),
    path("credentials/new/", views.credential_create, name="credential_new"),
    path("credentials/<int:pk>/", views.credential_edit, name="credential_edit"),
    path("credentials/<int:pk>/delete/", views.credential_delete, name="credential_delete"),
    path("groups/", views.group_list, name="group_list"),
    path("groups/new/", views.group_create, name="group_new"),
    path("groups/<int:pk>/edit/", views.group_edit, name="group_edit"),
    path("groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
]
