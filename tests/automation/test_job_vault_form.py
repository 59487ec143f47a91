"""The launch form offers stored vault passwords by name; the job keeps the credential (a
relaunch reuses it) and no value reaches the job's fields."""

import pytest
from django.urls import reverse

from automation.models import Job
from inventory.models import Credential
from tests.factories import CredentialFactory, PlaybookFactory, ServerFactory

pytestmark = pytest.mark.django_db


def test_a_user_launches_with_a_vault_credential_picked_by_name(as_user, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    vault = CredentialFactory(name="prod-vault", kind=Credential.Kind.VAULT)
    playbook, server = PlaybookFactory(), ServerFactory()
    form = as_user.get(reverse("job_new")).content.decode()
    assert "prod-vault" in form and "factory-Password-1" not in form
    response = as_user.post(
        reverse("job_new"),
        {"playbook": playbook.pk, "server": server.pk, "vault_credential": vault.pk},
    )
    job = Job.objects.get()
    assert response.status_code == 302
    assert job.vault_credential == vault and job.extra_vars == {}
    page = as_user.get(job.get_absolute_url()).content.decode()
    assert "vault: prod-vault" in page


def test_a_become_credential_is_not_offered_as_a_vault_password(as_user):
    CredentialFactory(name="sudo-pass")
    assert "sudo-pass" not in as_user.get(reverse("job_new")).content.decode()
