from django.urls import path

from insights import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dashboard/running/", views.dashboard_running, name="dashboard_running"),
    path("analytics/", views.analytics_page, name="analytics"),
]
