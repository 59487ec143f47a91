from django.urls import path

from automation.views import jobs
from automation.views import playbooks as pb

urlpatterns = [
    # Playbooks (history/ before <int:pk>/ so it is never read as an id)
    path("playbooks/", pb.playbook_list_view, name="playbook_list"),
    path("playbooks/history/", pb.playbook_history_all, name="playbook_history_all"),
    path("playbooks/new/", pb.playbook_new, name="playbook_new"),
    path("playbooks/upload/", pb.playbook_upload, name="playbook_upload"),
    path("playbooks/<int:pk>/", pb.playbook_detail, name="playbook_detail"),
    path("playbooks/<int:pk>/edit/", pb.playbook_edit, name="playbook_edit"),
    path("playbooks/<int:pk>/replace/", pb.playbook_replace, name="playbook_replace"),
    path("playbooks/<int:pk>/delete/", pb.playbook_delete, name="playbook_delete"),
    path("playbooks/<int:pk>/undelete/", pb.playbook_undelete, name="playbook_undelete"),
    path("playbooks/<int:pk>/history/", pb.playbook_history_view, name="playbook_history"),
    path("playbooks/<int:pk>/diff/", pb.playbook_diff, name="playbook_diff"),
    path(
        "playbooks/<int:pk>/restore/<int:version_id>/",
        pb.playbook_restore_view,
        name="playbook_restore",
    ),
    # Jobs
    path("jobs/", jobs.job_list_view, name="job_list"),
    path("jobs/new/", jobs.job_new, name="job_new"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/row/", jobs.job_row, name="job_row"),
    path("jobs/<uuid:job_id>/log/", jobs.job_log, name="job_log"),
    path("jobs/<uuid:job_id>/download/", jobs.job_download, name="job_download"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel_view, name="job_cancel"),
    path("jobs/<uuid:job_id>/relaunch/", jobs.job_relaunch_view, name="job_relaunch"),
]
