"""Every way to change data outside the pages is audited or closed: each Django admin model is
read-only or writes through an audited path, and each management command that changes
what people or the system did writes audit rows."""

import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import User
from auditing.models import AuditLog
from automation.models import Job, Playbook, PlaybookVersion, Project
from inventory.models import Server
from tests.factories import JobFactory, ServerFactory, UserFactory
from tests.test_command_coverage import project_commands

pytestmark = pytest.mark.django_db

# Models whose admin pages may write: each through a path that writes audit rows (checked below).
WRITABLE_IN_ADMIN = {User, Server, Playbook, Project}
# Commands that change data, each with the audit rows it writes (checked below); and the others,
# with why they need none.
AUDITED_COMMANDS = {
    "setup_schedules", "purge_job_logs", "purge_audit_logs", "purge_server_metrics",
    "reap_jobs", "seed_demo", "rotate_credentials", "import_ssh_keys",
}  # fmt: skip
NOT_AUDITED_COMMANDS = {
    "db_report": "reads only",
    "backup": "reads the database, writes an archive file",
    "optimize_db": "rebuilds tables and statistics, changes no row",
    "poll_servers": "machine data: the collector's readings (servers' usage, server_metrics)",
    "refresh_audit_stats": "derived data: recounts audit_logs into its rollup",
    "rebuild_job_stats": "derived data: recounts jobs into the rollups",
    "worker": "runs jobs: each status change is audited by Job.transition",
    "restore": "replaces the whole database with a backup, its audit trail included",
    "generate_data": "development and benchmarks only (devtools)",
    "prune_snapshots": "removes snapshot files nobody needs; their rows stay, marked pruned",
}


def test_every_command_is_either_audited_or_says_why_not():
    assert set(project_commands()) - {"generate_data"} <= AUDITED_COMMANDS | set(
        NOT_AUDITED_COMMANDS
    )


def test_every_admin_model_is_read_only_or_writes_through_an_audited_path(rf, super_admin):
    request = rf.get("/admin/")
    request.user = super_admin
    for model, model_admin in admin.site._registry.items():
        writes = (
            model_admin.has_add_permission(request)
            or model_admin.has_change_permission(request)
            or model_admin.has_delete_permission(request)
            or bool(model_admin.get_actions(request))
        )
        assert writes == (model in WRITABLE_IN_ADMIN), model


def _change(client, obj, **changes):
    model_admin = admin.site._registry[type(obj)]
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    request = client.get(url).wsgi_request
    form = model_admin.get_form(request, obj)
    data = {
        name: value
        for name, value in model_to_dict(obj, fields=list(form.base_fields)).items()
        if value is not None and value is not False
    }
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = value
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_admin_changes_are_audited(as_super_admin, super_admin, settings):
    (settings.SSH_KEYS_DIR / "id_ed25519").write_text("key")
    server = ServerFactory(hostname="admin-edit.example.net", ssh_key_path="id_ed25519")
    _change(as_super_admin, server, os_version="13.1")
    row = AuditLog.objects.filter(action="UPDATE", resource_type="server").latest("id")
    assert row.details["changes"]["os_version"][1] == "13.1" and row.user == super_admin

    person = UserFactory(username="edited", email="old@example.com")
    _change(as_super_admin, person, email="new@example.com")
    row = AuditLog.objects.filter(action="UPDATE", resource_type="user").latest("id")
    assert row.details["changes"]["email"] == ["old@example.com", "new@example.com"]


def test_playbooks_changed_in_the_admin_go_through_the_playbook_services(
    as_super_admin, super_admin
):
    from automation.services.playbooks import playbook_create

    playbook = playbook_create(name="Admin", description="", content="- hosts: all\n", user=None)
    _change(as_super_admin, playbook, description="Edited in the admin")
    assert PlaybookVersion.objects.filter(playbook_id=playbook.pk).latest("id").user == super_admin
    playbook.refresh_from_db()
    _change(as_super_admin, playbook, is_active=False)
    versions = PlaybookVersion.objects.filter(playbook_id=playbook.pk).order_by("id")
    assert [v.action for v in versions] == ["created", "updated", "deleted"]
    rows = AuditLog.objects.filter(resource_type="playbook", resource_id=str(playbook.pk))
    assert rows.filter(action="UPDATE", user=super_admin).count() == 2
    assert playbook.read_content() == "- hosts: all\n"


def test_machine_written_and_scheduling_models_refuse_every_write_in_the_admin(as_super_admin):
    job = JobFactory()
    base = "/admin/automation/job/"
    assert as_super_admin.post(f"{base}{job.pk}/change/", {"status": "failed"}).status_code == 403
    assert as_super_admin.post(f"{base}{job.pk}/delete/", {"post": "yes"}).status_code == 403
    schedule = Schedule.objects.create(name="x", func="os.system", args="('id',)")
    url = f"/admin/django_q/schedule/{schedule.pk}/change/"
    assert as_super_admin.post(url, {"func": "os.system"}).status_code == 403
    assert as_super_admin.get("/admin/django_q/schedule/add/").status_code == 403
    assert as_super_admin.get("/admin/auth/group/").status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.PENDING


def test_setup_schedules_audits_every_schedule_it_creates_updates_or_removes():
    call_command("setup_schedules", stdout=io.StringIO())
    created = AuditLog.objects.filter(action="CREATE", resource_type="schedule")
    assert created.count() == Schedule.objects.count() > 0
    assert all(r.details["source"] == "command" for r in created)
    first = Schedule.objects.order_by("pk").first()
    Schedule.objects.filter(pk=first.pk).update(func="os.system")
    copy = Schedule.objects.create(name=first.name, func=first.func, args=first.args)
    call_command("setup_schedules", stdout=io.StringIO())
    update = AuditLog.objects.get(action="UPDATE", resource_type="schedule")
    assert update.resource_id == str(first.pk)
    assert update.details["changes"]["func"] == ["os.system", first.func]
    deleted = AuditLog.objects.get(action="DELETE", resource_type="schedule")
    assert deleted.resource_id == str(copy.pk)


def test_each_audited_command_writes_its_rows(settings):
    def rows_written_by(*args):
        before = AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
        return AuditLog.objects.filter(id__gt=before)

    assert rows_written_by("setup_schedules").filter(resource_type="schedule").exists()
    for name in ("purge_job_logs", "purge_audit_logs", "purge_server_metrics"):
        assert rows_written_by(name).filter(action="PURGE").exists(), name
    lost = JobFactory(
        status=Job.Status.RUNNING,
        worker="gone-host:1:abc",
        started_at=timezone.now() - timedelta(days=1),
    )
    reaped = rows_written_by("reap_jobs").filter(resource_id=str(lost.job_id)).get()
    assert reaped.details["changes"]["status"] == ["running", "failed"] and reaped.user is None
    assert rows_written_by("seed_demo").filter(action="CREATE").exists()


def test_a_project_changed_in_the_admin_is_audited(as_super_admin, super_admin):
    from tests.factories import ProjectFactory

    project = ProjectFactory()
    _change(as_super_admin, project, description="Edited in the admin")
    row = AuditLog.objects.filter(action="UPDATE", resource_type="project").latest("id")
    assert row.details["changes"]["description"] == ["", "Edited in the admin"]
    assert row.user == super_admin
