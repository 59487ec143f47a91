from django.urls import path

from maintenance import views

urlpatterns = [
    path("database/", views.database_report, name="database_report"),
    path("metrics", views.metrics, name="metrics"),
    path("healthz", views.healthz, name="healthz"),
]
