"""Extra vars that the standard library parses but the database, the audit trail or Ansible
cannot hold: each is a form message on the launch page and a ValidationError for programmatic
callers of job_launch, and nothing is written."""

import json

import pytest
from django.core.exceptions import ValidationError

from auditing.models import AuditLog
from automation.models import Job
from automation.services.jobs import EXTRA_VARS_MAX_DEPTH, job_launch, parse_extra_vars
from tests.factories import PlaybookFactory, ServerFactory

pytestmark = pytest.mark.django_db


def nested(depth):
    """{"a": {"a": ... 1}} with ``depth`` objects."""
    value = 1
    for _ in range(depth):
        value = {"a": value}
    return value


BAD_TEXT = [
    ('{"a": NaN}', "NaN"),
    ('{"a": Infinity}', "Infinity"),
    ('{"a": -Infinity}', "-Infinity"),
    ('{"a": 1e999}', "too large"),
    ('{"a": "\\ud800"}', "lone surrogate"),
    ('{"\\udfff": 1}', "lone surrogate"),
    (json.dumps(nested(EXTRA_VARS_MAX_DEPTH + 1)), "nested too deeply"),
    ('{"a": ' + "[" * 30_000 + "]" * 30_000 + "}", "nested too deeply"),
    ('{"a": ' + "9" * 5000 + "}", "digits"),
]


@pytest.fixture
def target(db):
    return PlaybookFactory(), ServerFactory()


@pytest.mark.parametrize("text, message", BAD_TEXT)
def test_bad_extra_vars_are_a_form_message_and_nothing_is_written(
    as_user, target, monkeypatch, text, message
):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, server = target
    audit_rows = AuditLog.objects.count()
    response = as_user.post(
        "/jobs/new/", {"playbook": playbook.pk, "server": server.pk, "extra_vars": text}
    )
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["extra_vars"])
    assert not Job.objects.exists() and AuditLog.objects.count() == audit_rows


@pytest.mark.parametrize(
    "value, message",
    [
        ({"a": float("nan")}, "nan"),
        ({"a": float("inf")}, "inf"),
        ({"a": "\ud800"}, "lone surrogate"),
        ({"a": [nested(EXTRA_VARS_MAX_DEPTH)]}, "nested too deeply"),
        ({"a": 10**5000}, "digits"),
        ({"a": object()}, "only hold JSON values"),
        ([1, 2], "must be a JSON object"),
        ({"ansible_connection": "local"}, "Only admins"),
    ],
)
def test_job_launch_validates_programmatic_extra_vars_the_same_way(user, target, value, message):
    playbook, server = target
    with pytest.raises(ValidationError, match=message):
        job_launch(playbook=playbook, server=server, user=user, extra_vars=value)
    assert not Job.objects.exists()


def test_the_deepest_allowed_extra_vars_are_stored_with_their_audit_row(user, target, monkeypatch):
    """The limit leaves room for the audit row, which nests the extra vars deeper still (the
    database refuses JSON deeper than 32 levels on MariaDB)."""
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, server = target
    value = parse_extra_vars(json.dumps(nested(EXTRA_VARS_MAX_DEPTH)), user=user)
    job = job_launch(playbook=playbook, server=server, user=user, extra_vars=value)
    job.refresh_from_db()
    assert job.extra_vars == nested(EXTRA_VARS_MAX_DEPTH)
    assert AuditLog.objects.filter(action="RUN", resource_id=str(job.job_id)).exists()


def test_ordinary_numbers_and_unicode_still_parse(user):
    text = '{"n": -12, "f": 1.5e10, "big": ' + "9" * 100 + ', "s": "\\u00e9\\ud83d\\ude00"}'
    assert parse_extra_vars(text, user=user) == {
        "n": -12,
        "f": 1.5e10,
        "big": int("9" * 100),
        "s": "é😀",
    }
