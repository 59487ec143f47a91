from django.urls import path

from automation.views import jobs
from automation.views import playbooks as pb
from automation.views import projects as pr

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
    # Projects
    path("projects/", pr.project_list_view, name="project_list"),
    path("projects/new/", pr.project_new, name="project_new"),
    path("projects/<int:pk>/", pr.project_detail, name="project_detail"),
    path("projects/<int:pk>/edit/", pr.project_edit, name="project_edit"),
    path("projects/<int:pk>/sync/", pr.project_sync_view, name="project_sync"),
    path("projects/<int:pk>/delete/", pr.project_delete, name="project_delete"),
    path("projects/<int:pk>/undelete/", pr.project_undelete, name="project_undelete"),
    path("projects/<int:pk>/compare/", pr.project_compare, name="project_compare"),
    path(
        "projects/<int:pk>/revisions/<str:revision>/",
        pr.project_revision,
        name="project_revision",
    ),
    path("projects/syncs/<uuid:sync_id>/", pr.sync_detail, name="project_sync_detail"),
    path("projects/syncs/<uuid:sync_id>/log/", pr.sync_log, name="project_sync_log"),
    path(
        "projects/syncs/<uuid:sync_id>/download/",
        pr.sync_download,
        name="project_sync_download",
    ),
    path("projects/syncs/<uuid:sync_id>/cancel/", pr.sync_cancel_view, name="project_sync_cancel"),
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
