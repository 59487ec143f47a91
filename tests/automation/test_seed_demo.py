import pytest
from django.core.management import call_command

from accounts.models import User
from automation.models import Playbook, PlaybookVersion
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
    assert Playbook.objects.count() == 2
    assert PlaybookVersion.objects.count() == 2
    for playbook in Playbook.objects.all():
        assert playbook.read_content().startswith("- name:")


def test_seed_demo_prints_a_generated_password_once(monkeypatch, capsys):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out
    password = first.split("password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    assert "password:" not in second
