"""Jobs pages: launch form, list, details and console, cancel, relaunch, download, roles."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automation.models import Job, JobLog
from inventory.models import Server
from tests.automation.conftest import tasks_yaml
from tests.factories import JobFactory, JobLogFactory, PlaybookFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def target(db):
    return PlaybookFactory(), ServerFactory()


def post_launch(client, playbook, server, extra_vars="", check_mode=False):
    data = {"playbook": playbook.pk, "server": server.pk, "extra_vars": extra_vars}
    if check_mode:
        data["check_mode"] = "on"
    return client.post("/jobs/new/", data)


# --- launch ----------------------------------------------------------------------------


def test_user_launches_a_job_and_lands_on_its_page(as_user, user, target, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, server = target
    response = post_launch(as_user, playbook, server, '{"version": "2"}', check_mode=True)
    job = Job.objects.get()
    assert response.status_code == 302 and response.url == f"/jobs/{job.job_id}/"
    assert (job.user, job.extra_vars, job.check_mode, job.status) == (
        user,
        {"version": "2"},
        True,
        "pending",
    )


def test_launch_enqueues_after_commit_and_saves_the_task_id(
    as_user, target, django_capture_on_commit_callbacks, monkeypatch
):
    calls = []
    monkeypatch.setattr(
        "automation.services.jobs.async_task", lambda *a, **k: calls.append((a, k)) or "task-123"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_launch(as_user, *target)
    assert not calls and len(callbacks) == 1  # nothing enqueued before the commit
    callbacks[0]()
    job = Job.objects.get()
    assert calls[0][0] == ("automation.tasks.run_job", job.pk) and job.task_id == "task-123"


def test_preselection_from_the_query_string(as_user, target):
    playbook, server = target
    content = as_user.get(f"/jobs/new/?playbook={playbook.pk}&server={server.pk}").content.decode()
    assert f'<option value="{playbook.pk}" selected>' in content
    assert f'<option value="{server.pk}" selected>' in content


@pytest.mark.parametrize(
    "query", ["?playbook=abc", "?server=-1", "?playbook=99999999999999", "?playbook=%00"]
)
def test_bad_preselection_is_ignored(as_user, target, query):
    assert as_user.get("/jobs/new/" + query).status_code == 200


@pytest.mark.parametrize(
    "extra_vars, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ('{"ansible_connection": "local"}', "Only admins may set ansible_connection"),
        ('{"ANSIBLE_HOST": "10.0.0.1"}', "Only admins may set ANSIBLE_HOST"),
    ],
)
def test_bad_extra_vars_are_refused_for_a_user(as_user, target, extra_vars, message):
    response = post_launch(as_user, *target, extra_vars)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Job.objects.exists()


def test_oversize_extra_vars_are_refused(as_user, target, settings):
    settings.EXTRA_VARS_MAX_BYTES = 20
    response = post_launch(as_user, *target, json.dumps({"a": "x" * 50}))
    assert b"limited to 20 bytes" in response.content and not Job.objects.exists()


def test_admin_may_set_ansible_keys(as_admin, target, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    post_launch(as_admin, *target, '{"ansible_connection": "local"}')
    assert Job.objects.get().extra_vars == {"ansible_connection": "local"}


def test_inactive_playbook_or_server_cannot_run(as_user):
    playbook, server = PlaybookFactory(is_active=False), ServerFactory()
    assert b"valid choice" in post_launch(as_user, playbook, server).content
    playbook, server = PlaybookFactory(), ServerFactory(is_active=False)
    assert b"valid choice" in post_launch(as_user, playbook, server).content
    assert not Job.objects.exists()


def test_every_role_runs_on_local_servers_inside_the_sandbox(as_user, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, local = PlaybookFactory(), ServerFactory(connection=Server.Connection.LOCAL)
    assert post_launch(as_user, playbook, local).status_code == 302


def test_without_the_sandbox_only_super_admins_run_on_local_servers(
    as_admin, as_super_admin, monkeypatch, settings
):
    settings.RUNNER_SANDBOX = "off"
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    playbook, local = PlaybookFactory(), ServerFactory(connection=Server.Connection.LOCAL)
    assert b"valid choice" in post_launch(as_admin, playbook, local).content
    assert post_launch(as_super_admin, playbook, local).status_code == 302


def test_missing_fields_are_form_errors(as_user):
    response = as_user.post("/jobs/new/", {})
    assert response.status_code == 200 and b"required" in response.content


# --- list ------------------------------------------------------------------------------


def test_list_filters_by_status_playbook_server_user_and_dates(as_user):
    ok = JobFactory(status="success")
    failed = JobFactory(status="failed")
    old = JobFactory(status="success", created_at=timezone.now() - timedelta(days=40))

    def ids(query):
        content = as_user.get("/jobs/" + query).content.decode()
        return {job for job in (ok, failed, old) if f"job-{job.job_id}" in content}

    assert ids("") == {ok, failed, old}
    assert ids("?status=failed") == {failed}
    assert ids(f"?playbook={ok.playbook_id}") == {ok}
    assert ids(f"?server={failed.server_id}") == {failed}
    assert ids(f"?user={old.user_id}") == {old}
    since = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert ids(f"?date_from={since}") == {ok, failed}
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    assert ids(f"?date_to={until}") == {old}


@pytest.mark.parametrize(
    "query",
    [
        "?status=exploded",
        "?playbook=abc",
        "?user=999999",
        "?date_from=2024-02-31",
        "?date_from=2025-05-02&date_to=2025-05-01",
        "?before=garbage",
        "?before=2024-01-01_x",
        "?before=-5_3",
        "?before=" + "9" * 100,
    ],
)
def test_bad_filters_give_a_message_never_a_500(as_user, query):
    JobFactory()
    assert as_user.get("/jobs/" + query).status_code == 200


def test_keyset_pages_walk_every_job_once(as_user):
    now = timezone.now()
    jobs = [JobFactory(created_at=now - timedelta(minutes=i)) for i in range(120)]
    seen, url = [], "/jobs/"
    for _ in range(5):  # 120 jobs: 3 pages; more means the cursor does not advance
        if not url:
            break
        response = as_user.get(url)
        seen += [j.job_id for j in response.context["jobs"]]
        cursor = response.context["next_cursor"]
        url = f"/jobs/?before={cursor}" if cursor else None
    assert url is None and seen == [j.job_id for j in jobs]


def test_live_rows_poll_and_finished_rows_do_not(as_user):
    live, done = JobFactory(status="running"), JobFactory(status="success")
    content = as_user.get("/jobs/").content.decode()
    assert f'hx-get="/jobs/{live.job_id}/row/"' in content
    assert f'hx-get="/jobs/{done.job_id}/row/"' not in content
    row = as_user.get(f"/jobs/{live.job_id}/row/").content.decode()
    assert row.strip().startswith("<tr") and "hx-trigger" in row


def test_list_query_count_is_constant(as_user):
    JobFactory.create_batch(3)
    with CaptureQueriesContext(connection) as small:
        as_user.get("/jobs/")
    JobFactory.create_batch(60)
    with CaptureQueriesContext(connection) as large:
        as_user.get("/jobs/?status=pending")
    assert len(small) == len(large)


# --- details and console --------------------------------------------------------------


def test_details_show_header_timeline_stats_and_the_last_1000_lines(as_user):
    job = JobFactory(
        status="success",
        started_at=timezone.now(),
        completed_at=timezone.now(),
        rc=0,
        stats={
            "web1": {
                "ok": 3,
                "changed": 1,
                "failed": 0,
                "unreachable": 0,
                "skipped": 2,
                "rescued": 0,
                "ignored": 0,
            }
        },
    )
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"line {n}") for n in range(1, 1501)
    )
    content = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert 'id="L501"' in content and 'id="L1500"' in content and 'id="L500"' not in content
    assert "?before=501" in content  # load earlier lines
    assert "web1" in content and "Relaunch" in content and "log-poll" not in content


def test_secret_looking_extra_vars_are_masked(as_user):
    job = JobFactory(
        extra_vars={"db_password": "hunter2", "nested": {"api_token": "abc"}, "version": "1.0"}
    )
    content = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert "hunter2" not in content and "abc" not in content and "1.0" in content


def test_ansi_colours_render_as_spans_and_html_is_escaped(as_user):
    job = JobFactory(status="success")
    JobLogFactory(
        job=job,
        line_number=1,
        content="\x1b[0;31mfatal: <script>alert(1)</script>\x1b[0m",
        log_level="ERROR",
    )
    content = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert "<script>alert" not in content and "&lt;script&gt;" in content
    assert 'style="color: #aa0000"' in content and "lvl-ERROR" in content


def test_live_console_polls_new_lines_after_a_cursor(as_user):
    job = JobFactory(status="running", started_at=timezone.now())
    JobLogFactory(job=job, line_number=1, content="first")
    page = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert f'hx-get="/jobs/{job.job_id}/log/?after=1"' in page and "every 1s" in page
    JobLogFactory(job=job, line_number=2, content="second")
    response = as_user.get(f"/jobs/{job.job_id}/log/?after=1")
    body = response.content.decode()
    assert response.status_code == 200 and "second" in body and "first" not in body
    assert "?after=2" in body  # the next poll asks for what comes after


def test_finished_job_answers_286_to_stop_polling_with_the_final_header(as_user):
    job = JobFactory(status="success", rc=0)
    JobLogFactory(job=job, line_number=1, content="done")
    response = as_user.get(f"/jobs/{job.job_id}/log/?after=1")
    assert response.status_code == 286
    assert (
        'hx-swap-oob="true"' in response.content.decode()
        and "log-poll" not in response.content.decode()
    )


def test_earlier_lines_come_by_ranges(as_user):
    job = JobFactory(status="success")
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"line {n}") for n in range(1, 2501)
    )
    body = as_user.get(f"/jobs/{job.job_id}/log/?before=1501").content.decode()
    assert (
        'id="L501"' in body
        and 'id="L1500"' in body
        and 'id="L500"' not in body
        and "?before=501" in body
    )


@pytest.mark.parametrize("query", ["?after=abc", "?after=-5", "?before=x", "?after=99999999"])
def test_bad_console_cursors_never_fail(as_user, query):
    job = JobFactory(status="running")
    assert as_user.get(f"/jobs/{job.job_id}/log/{query}").status_code in (200, 286)


def test_jump_to_first_error(as_user):
    job = JobFactory(status="failed", first_error_line=1234)
    content = as_user.get(f"/jobs/{job.job_id}/").content.decode()
    assert "?from=1214#L1234" in content
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"line {n}") for n in range(1, 3001)
    )
    content = as_user.get(f"/jobs/{job.job_id}/?from=1214").content.decode()
    assert 'id="L1234"' in content and 'id="L1214"' in content


def test_download_streams_plain_text(as_user):
    job = JobFactory(status="success")
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"\x1b[0;32mline {n}\x1b[0m")
        for n in range(1, 12001)
    )
    response = as_user.get(f"/jobs/{job.job_id}/download/")
    text = b"".join(response.streaming_content).decode()
    assert response["Content-Disposition"] == f'attachment; filename="job-{job.job_id}.log"'
    assert text.splitlines() == [f"line {n}" for n in range(1, 12001)]


def test_unknown_job_is_404(as_user):
    assert as_user.get("/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert as_user.get("/jobs/not-a-uuid/").status_code == 404


def test_details_query_count_does_not_grow_with_lines(as_user):
    job = JobFactory(status="success")
    JobLogFactory(job=job, line_number=1)
    with CaptureQueriesContext(connection) as small:
        as_user.get(f"/jobs/{job.job_id}/")
    JobLog.objects.bulk_create(JobLog(job=job, line_number=n, content="x") for n in range(2, 3000))
    with CaptureQueriesContext(connection) as large:
        as_user.get(f"/jobs/{job.job_id}/")
    assert len(small) == len(large)


# --- cancel and relaunch ---------------------------------------------------------------


def test_owner_cancels_a_pending_job(as_user, user):
    job = JobFactory(user=user)
    response = as_user.post(f"/jobs/{job.job_id}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_another_user_cannot_cancel(as_user):
    job = JobFactory(user=UserFactory())
    assert as_user.post(f"/jobs/{job.job_id}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == "pending"


def test_admin_cancels_anyones_running_job(as_admin):
    job = JobFactory(status="running")
    as_admin.post(f"/jobs/{job.job_id}/cancel/")
    job.refresh_from_db()
    assert job.cancel_requested


def test_cancel_needs_post(as_user, user):
    job = JobFactory(user=user)
    assert as_user.get(f"/jobs/{job.job_id}/cancel/").status_code == 405


def test_relaunch_copies_the_parameters(as_user, user, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    old = JobFactory(status="failed", extra_vars={"a": 1}, check_mode=True)
    response = as_user.post(f"/jobs/{old.job_id}/relaunch/")
    new = Job.objects.exclude(pk=old.pk).get()
    assert response.url == f"/jobs/{new.job_id}/"
    assert (
        new.playbook,
        new.server,
        new.extra_vars,
        new.check_mode,
        new.user,
        new.relaunched_from,
    ) == (old.playbook, old.server, {"a": 1}, True, user, old)


def test_user_cannot_relaunch_an_admins_job_with_ansible_keys(as_user, monkeypatch):
    monkeypatch.setattr("automation.services.jobs._enqueue", lambda job: None)
    old = JobFactory(status="success", extra_vars={"ansible_port": 2222})
    response = as_user.post(f"/jobs/{old.job_id}/relaunch/", follow=True)
    assert b"Only admins may set ansible_port" in response.content
    assert Job.objects.count() == 1


def test_relaunch_of_a_deleted_playbook_is_refused(as_user, monkeypatch):
    old = JobFactory(status="success", playbook=PlaybookFactory(is_active=False))
    response = as_user.post(f"/jobs/{old.job_id}/relaunch/", follow=True)
    assert b"is deleted and cannot run" in response.content and Job.objects.count() == 1


def test_anonymous_cannot_see_or_launch(anonymous):
    job = JobFactory()
    for url in (
        "/jobs/",
        "/jobs/new/",
        f"/jobs/{job.job_id}/",
        f"/jobs/{job.job_id}/log/",
        f"/jobs/{job.job_id}/download/",
    ):
        assert anonymous.get(url).status_code == 302
    assert anonymous.post(f"/jobs/{job.job_id}/cancel/").status_code == 302


def test_a_changed_host_key_makes_the_job_fail(
    sshd, settings, monkeypatch, django_capture_on_commit_callbacks, admin
):
    from django_q.conf import Conf

    from automation.services.jobs import job_launch
    from automation.services.playbooks import playbook_create

    monkeypatch.setattr(Conf, "SYNC", True)
    settings.SSH_KNOWN_HOSTS.write_text(
        f"[{sshd.host}]:{sshd.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIBmAKn2QKbFFLN0PkcvPyNaRw/Y7EtJ1zhjlJdvwK7Ri\n"
    )
    server = ServerFactory(
        ip_address=sshd.host, ssh_port=sshd.port, ssh_user=sshd.user, ssh_key_path=sshd.key_name
    )
    playbook = playbook_create(
        name="p", description="", content=tasks_yaml("ansible.builtin.ping:"), user=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        job = job_launch(playbook=playbook, server=server, user=admin)
    job.refresh_from_db()
    assert job.status == "failed" and "different SSH host key" in job.error_message
    assert "host key" in " ".join(job.logs.values_list("content", flat=True)).lower()


def test_cancel_is_audited_with_the_user_and_ip(as_user, user):
    from auditing.models import AuditLog

    job = JobFactory(user=user)
    as_user.post(f"/jobs/{job.job_id}/cancel/", REMOTE_ADDR="127.0.0.9")
    row = AuditLog.objects.get(action="CANCEL")
    assert (row.user, row.resource_type, row.resource_id, row.ip_address) == (
        user,
        "job",
        str(job.job_id),
        "127.0.0.9",
    )
