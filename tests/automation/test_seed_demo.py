import pytest
from django.core.management import call_command

from accounts.models import User
from automation.models import Playbook, PlaybookVersion, Project, ProjectSync
from automation.services.jobs import job_launch
from inventory.models import Server

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent(monkeypatch, capsys):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-123")
    call_command("seed_demo")
    call_command("seed_demo")
    admin = User.objects.get(username="admin")
    assert admin.role == User.Role.SUPER_ADMIN and admin.check_password("demo-pass-123")
    assert User.objects.count() == 1
    assert Server.objects.get().connection == Server.Connection.LOCAL
    assert Playbook.objects.filter(project=None).count() == 2
    assert PlaybookVersion.objects.count() == 2
    for playbook in Playbook.objects.filter(project=None):
        assert playbook.read_content().startswith("- name:")
    assert Project.objects.get().name == "Demo project"
    assert ProjectSync.objects.count() == 1  # its first sync, run by the worker


def test_the_demo_project_syncs_and_its_playbook_runs(monkeypatch, inline_tasks):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-pass-123")
    with inline_tasks():
        call_command("seed_demo")
    project = Project.objects.get()
    sync = project.syncs.get()
    assert sync.status == ProjectSync.Status.SUCCESS, sync.error_message
    playbook = Playbook.objects.get(project=project, path="site.yml")
    server = Server.objects.get(hostname="localhost")
    with inline_tasks():
        job = job_launch(playbook=playbook, server=server, user=User.objects.get())
    job.refresh_from_db()
    assert job.status == "success", job.error_message
    assert "run by operations" in "".join(job.logs.values_list("content", flat=True))


def test_seed_demo_prints_a_generated_password_once(monkeypatch, capsys):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    password = first.split("password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert "password:" not in second
