"""Passwords inside URLs (scheme://user:password@host) are masked wherever extra vars and
audit details are shown or stored, at any depth, like values of secret-named keys."""

import json

import pytest

from auditing.models import AuditLog
from auditing.services import MASK, mask_secrets
from automation.models import Job
from tests.factories import PlaybookFactory, ServerFactory

pytestmark = pytest.mark.django_db

EXTRA_VARS = {
    "repo": "https://deploy:hunter2@git.example.com/app.git",
    "nested": [{"caches": ["redis://:s3cr3t-redis@cache:6379/0", "plain text"]}],
    "mirror": "https://git.example.com/app.git",
}


@pytest.mark.parametrize(
    "value, masked",
    [
        ("https://deploy:hunter2@git.example.com/x", f"https://deploy:{MASK}@git.example.com/x"),
        ("redis://:pw@cache:6379", f"redis://:{MASK}@cache:6379"),
        ("postgres://app:p%40ss@db/app?ssl=1", f"postgres://app:{MASK}@db/app?ssl=1"),
        ("clone https://u:a@b@host/r now", f"clone https://u:{MASK}@host/r now"),
        ("https://user@host/x", "https://user@host/x"),
        ("http://host:8080/path", "http://host:8080/path"),
        ("mail me: a@b.example", "mail me: a@b.example"),
    ],
)
def test_url_passwords_are_masked_in_text(value, masked):
    assert mask_secrets(value) == masked


def test_url_passwords_are_masked_at_every_depth():
    masked = mask_secrets({"a": [{"b": {"c": ["ftp://x:deep@host"]}}], "token": "t"})
    assert masked == {"a": [{"b": {"c": [f"ftp://x:{MASK}@host"]}}], "token": MASK}


def test_launch_masks_url_passwords_on_the_page_in_the_trail_and_the_export(as_admin, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, server = PlaybookFactory(), ServerFactory()

    as_admin.post(
        "/jobs/new/",
        {"playbook": playbook.pk, "server": server.pk, "extra_vars": json.dumps(EXTRA_VARS)},
    )
    job = Job.objects.get()
    assert job.extra_vars == EXTRA_VARS  # the job itself needs the real values to run
    run = AuditLog.objects.get(action="RUN")
    stored = json.dumps(run.details)
    assert "hunter2" not in stored and "s3cr3t-redis" not in stored and "deploy:" in stored
    for url in (f"/jobs/{job.job_id}/", "/audit/", "/audit/export.csv"):
        response = as_admin.get(url)
        body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        assert "hunter2" not in body and "s3cr3t-redis" not in body, url
        assert "git.example.com/app.git" in body, url


def test_rows_stored_before_the_rule_are_masked_when_shown(as_admin):
    AuditLog.objects.create(
        action="UPDATE",
        resource_type="server",
        resource_id="1",
        details={"changes": {"notes": {"old": "", "new": "https://a:old-secret@h/x"}}},
    )
    page = as_admin.get("/audit/").content.decode()
    export = b"".join(as_admin.get("/audit/export.csv").streaming_content).decode()
    assert "old-secret" not in page and "old-secret" not in export
    assert f"https://a:{MASK}@h/x" in page and f"https://a:{MASK}@h/x" in export
