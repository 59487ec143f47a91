"""Two people creating (or renaming to) the same playbook name at the same moment: the form's
check passes for both, the unique index picks one, and the others get the form's "already
exists" message with nothing of theirs left behind (no file, no row, no history entry)."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client

from auditing.models import AuditLog
from automation import storage, validation
from automation.forms.playbooks import PlaybookMetaMixin
from automation.models import Playbook, PlaybookVersion
from tests.factories import PlaybookFactory

GOOD = "- hosts: all\n  gather_facts: false\n  tasks: []\n"
RACERS = 4


@pytest.fixture
def fast_validation(monkeypatch):
    """The structure check only: the race is about names, not ansible-playbook."""
    monkeypatch.setattr("automation.forms.playbooks.validate_playbook", validation.check_structure)


def files(settings):
    return sorted(p.name for p in settings.PLAYBOOKS_DIR.iterdir())


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_with_one_name_leave_one_playbook(
    admin, settings, monkeypatch, fast_validation
):
    # Every request waits here, after the form's name check and before any write, so all of
    # them have passed the check when the first insert happens.
    barrier = threading.Barrier(RACERS, timeout=30)
    write = storage.write

    def write_after_everyone_checked(*args, **kwargs):
        barrier.wait()
        return write(*args, **kwargs)

    monkeypatch.setattr(storage, "write", write_after_everyone_checked)
    responses = [None] * RACERS

    def post(index):
        try:
            client = Client()
            client.force_login(admin)
            responses[index] = client.post(
                "/playbooks/new/", {"name": "Deploy", "description": "", "content": GOOD}
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (RACERS - 1) + [302], connection.vendor
    losers = [r for r in responses if r.status_code == 200]
    assert all("already exists" in " ".join(r.context["form"].errors["name"]) for r in losers)
    playbook = Playbook.objects.get()
    assert files(settings) == [playbook.file_path]  # no orphan file, no temporary file
    assert PlaybookVersion.objects.count() == 1
    assert AuditLog.objects.filter(resource_type="playbook", action="CREATE").count() == 1


@pytest.mark.django_db
def test_a_rename_losing_the_race_is_a_form_message(
    as_admin, settings, monkeypatch, fast_validation
):
    mine, theirs = PlaybookFactory(name="Mine"), PlaybookFactory(name="Theirs")
    before = files(settings)
    # The form's check ran before the other playbook took the name: it saw no clash.
    monkeypatch.setattr(PlaybookMetaMixin, "clean_name", lambda form: form.cleaned_data["name"])
    response = as_admin.post(
        f"/playbooks/{mine.pk}/edit/",
        {"name": "Theirs", "description": "", "content": GOOD, "base_fingerprint": ""},
    )
    assert response.status_code == 200
    assert "already exists" in " ".join(response.context["form"].errors["name"])
    mine.refresh_from_db()
    assert mine.name == "Mine" and theirs.name == "Theirs"
    assert files(settings) == before and PlaybookVersion.objects.count() == 0
