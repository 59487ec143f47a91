from django.urls import path

from auditing import views

# Read-only on purpose: no route writes, edits or deletes audit rows.
urlpatterns = [
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
]
