"""A project's Git credential: a stored SSH key reaches git as a temporary 0600 file, an https
token through an askpass helper, never in the URL, the log or the environment."""

import subprocess

import pytest

from automation.models import Project, ProjectSync
from automation.runner import sources
from automation.services.projects import project_create
from inventory.services import credential_save
from tests.automation.test_sources import ssh_repo  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_a_project_syncs_over_ssh_with_a_stored_passphrase_key(
    ssh_repo,  # noqa: F811
    target_sshd,
    inline_tasks,
    admin,
    tmp_path,
):
    built, url = ssh_repo
    copy = tmp_path / "deploy"
    copy.write_text(target_sshd.key_path.read_text())
    copy.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-P", "", "-N", "Deploy-phrase-7", "-f", str(copy)])
    credential = credential_save(
        actor=admin,
        fields={"name": "deploy", "kind": "git"},
        secrets={"private_key": copy.read_text(), "passphrase": "Deploy-phrase-7"},
    )
    with inline_tasks():
        project = project_create(
            user=admin, name="Site", kind=Project.Kind.GIT, url=url, credential=credential
        )
    sync = ProjectSync.objects.get(project=project)
    assert sync.status == ProjectSync.Status.SUCCESS, sync.error_message
    project.refresh_from_db()
    assert project.credential == credential and project.key_path == ""


def test_a_token_reaches_git_through_an_askpass_helper_only(tmp_path):
    helper = sources._askpass(tmp_path, "deploy-bot", "tok-Secret-123")

    def ask(prompt):
        done = subprocess.run([str(helper), prompt], capture_output=True, text=True, check=True)
        return done.stdout

    assert ask("Username for 'https://git.example.com': ") == "deploy-bot"
    assert ask("Password for 'https://deploy-bot@git.example.com': ") == "tok-Secret-123"
    assert "tok-Secret-123" not in helper.read_text()
    assert oct((tmp_path / "askpass_token").stat().st_mode & 0o777) == "0o600"
