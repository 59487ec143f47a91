"""Values of secret-named keys are masked in every spelling, at every depth, in every audit row
(RUN, RELAUNCH, DELETE), on the job page, the audit page and the CSV export."""

import json

import pytest

from auditing.models import AuditLog
from auditing.services import MASK, mask_secrets
from automation.models import Job
from automation.services.jobs import job_relaunch
from tests.factories import PlaybookFactory, ServerFactory

pytestmark = pytest.mark.django_db

SECRET_KEYS = [
    "password", "db_password", "passwd", "pass", "passphrase", "pwd", "db_pwd", "DB_PWD", "pw",
    "db_pw", "auth", "Authorization", "basic_auth", "oauth_token", "apikey", "api_key", "API-Key",
    "apiKey", "token", "client_secret", "credentials", "private_key", "session_cookie", "jwt",
    "bearer", "x-signature", "salt",
]  # fmt: skip
PLAIN_KEYS = ["user", "host", "port", "packages", "version", "path", "mapping", "shipping"]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_key_spellings_are_masked_at_every_depth(key):
    value = {"outer": [{"inner": {key: "s3cr3t"}}], key: {"deep": "s3cr3t"}}
    assert mask_secrets(value) == {"outer": [{"inner": {key: MASK}}], key: MASK}


@pytest.mark.parametrize("key", PLAIN_KEYS)
def test_ordinary_keys_are_kept(key):
    assert mask_secrets({key: "visible"}) == {key: "visible"}


def test_run_relaunch_and_delete_rows_and_every_view_mask_secret_keys(as_admin, admin, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    extra_vars = {key: f"s3cr3t-{i}" for i, key in enumerate(SECRET_KEYS)}
    extra_vars["nested"] = [{"db": {"db_pwd": "deep-s3cr3t", "auth": {"user": "u"}}}]
    extra_vars["app_user"] = "visible-user"
    playbook, server = PlaybookFactory(), ServerFactory()
    as_admin.post(
        "/jobs/new/",
        {"playbook": playbook.pk, "server": server.pk, "extra_vars": json.dumps(extra_vars)},
    )
    job = Job.objects.get()
    assert job.extra_vars == extra_vars  # the run needs the real values
    relaunched = job_relaunch(job=job, user=admin)
    relaunched.delete()
    rows = AuditLog.objects.filter(action__in=["RUN", "RELAUNCH", "DELETE"], resource_type="job")
    assert sorted(rows.values_list("action", flat=True)) == ["DELETE", "RELAUNCH", "RUN"]
    for row in rows:
        stored = json.dumps(row.details)
        assert "s3cr3t" not in stored, row.action
        assert "visible-user" in stored, row.action
    for url in (f"/jobs/{job.job_id}/", "/audit/", "/audit/export.csv"):
        response = as_admin.get(url)
        body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        assert "s3cr3t" not in body, url
        if url != "/audit/":  # the page shortens long details
            assert "visible-user" in body, url
