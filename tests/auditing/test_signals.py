"""Each model change and each login writes exactly one audit row with the right who/what/where."""

import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.models import User
from auditing.context import audit_context, client_ip
from auditing.models import AuditLog
from auditing.services import MASK, audit_record
from automation.models import Job
from inventory.models import Server
from tests.factories import JobFactory, PlaybookFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db

A = AuditLog.Action


def rows(**filters):
    return list(AuditLog.objects.filter(**filters).order_by("id"))


def only_row(**filters):
    found = rows(**filters)
    assert len(found) == 1, found
    return found[0]


def test_server_create_update_delete_are_each_one_row_with_the_acting_user(admin):
    with audit_context(user=admin, source="web", ip_address="192.0.2.7", user_agent="UA/1"):
        server = ServerFactory(hostname="db1.example.net", ssh_port=22)
        created = only_row(action=A.CREATE, resource_type="server")
        server.ssh_port = 2222
        server.hostname = "db2.example.net"
        server.save()
        server_pk = server.pk
        server.delete()
    assert created.user == admin and created.ip_address == "192.0.2.7"
    assert created.user_agent == "UA/1" and created.resource_id == str(server_pk)
    assert created.details["fields"]["hostname"] == "db1.example.net"
    updated = only_row(action=A.UPDATE, resource_type="server")
    assert updated.details["changes"] == {
        "hostname": ["db1.example.net", "db2.example.net"],
        "ssh_port": [22, 2222],
    }
    deleted = only_row(action=A.DELETE, resource_type="server")
    assert deleted.resource_id == str(server_pk) and deleted.user == admin
    assert deleted.details["fields"]["hostname"] == "db2.example.net"


def test_a_save_that_changes_nothing_writes_nothing():
    server = ServerFactory()
    before = AuditLog.objects.count()
    Server.objects.get(pk=server.pk).save()
    server.ssh_port = "22"  # the same value as text, as a form might hand it over
    server.save()
    assert AuditLog.objects.count() == before


def test_collector_fields_are_noise_and_write_nothing():
    server = ServerFactory()
    before = AuditLog.objects.count()
    server.cpu_usage, server.memory_usage, server.disk_usage = 10, 20, 30
    server.last_monitored = timezone.now()
    server.last_error = "timeout"
    server.save()
    assert AuditLog.objects.count() == before


def test_update_fields_compares_only_the_fields_saved():
    server = ServerFactory(os_version="6.1")
    server.os_version = "6.2"
    server.save(update_fields=["os_version"])
    row = only_row(action=A.UPDATE, resource_type="server")
    assert row.details["changes"] == {"os_version": ["6.1", "6.2"]}


def test_playbook_create_and_update_are_audited():
    playbook = PlaybookFactory(name="Deploy")
    playbook.description = "New text"
    playbook.save()
    assert only_row(action=A.CREATE, resource_type="playbook").resource_id == str(playbook.pk)
    change = only_row(action=A.UPDATE, resource_type="playbook").details["changes"]
    assert change == {"description": ["A sample playbook", "New text"]}


def test_user_role_change_is_audited_and_last_login_is_not(super_admin):
    person = UserFactory(role=User.Role.USER)
    person.last_login = timezone.now()
    person.save()
    assert not rows(action=A.UPDATE, resource_type="user")
    with audit_context(user=super_admin, source="web"):
        person.role = User.Role.ADMIN
        person.save()
    row = only_row(action=A.UPDATE, resource_type="user")
    assert row.user == super_admin
    assert row.details["changes"] == {"role": ["user", "admin"]}


def test_job_creation_is_run_and_relaunch_is_relaunch(user):
    with audit_context(user=user, source="web"):
        job = JobFactory(user=user, extra_vars={"version": "1.2"})
        again = JobFactory(user=user, relaunched_from=job, playbook=job.playbook, server=job.server)
    run = only_row(action=A.RUN)
    assert run.resource_type == "job" and run.resource_id == str(job.job_id)
    assert run.user == user and run.details["fields"]["extra_vars"] == {"version": "1.2"}
    relaunch = only_row(action=A.RELAUNCH)
    assert relaunch.resource_id == str(again.job_id)
    assert relaunch.details["fields"]["relaunched_from"] == job.pk
    assert not rows(action=A.CREATE, resource_type="job")


@pytest.mark.parametrize(
    "change",
    [{"status": Job.Status.CANCELLED}, {"cancel_requested": True}],
    ids=["status-cancelled", "cancel-requested"],
)
def test_a_save_that_cancels_a_job_is_cancel(change):
    job = JobFactory(status=Job.Status.RUNNING)
    for name, value in change.items():
        setattr(job, name, value)
    job.save()
    assert only_row(action=A.CANCEL).resource_id == str(job.job_id)
    assert not rows(action=A.UPDATE, resource_type="job")


def test_other_job_saves_are_update_and_plumbing_fields_are_not():
    job = JobFactory()
    job.task_id = "abc123"
    job.save()
    assert not rows(action=A.UPDATE, resource_type="job")
    job.error_message = "boom"
    job.save()
    assert only_row(action=A.UPDATE, resource_type="job").details["changes"] == {
        "error_message": ["", "boom"]
    }


def test_explicit_audit_record_for_writes_without_signals(admin):
    job = JobFactory(status=Job.Status.PENDING)
    with audit_context(user=admin, source="web", ip_address="198.51.100.4"):
        audit_record(A.UPDATE, job, details={"changes": {"note": ["", "x"]}})
    row = only_row(action=A.UPDATE, resource_type="job")
    assert row.user == admin and row.ip_address == "198.51.100.4"
    assert row.resource_type == "job" and row.resource_id == str(job.job_id)


def test_transitions_write_their_row_in_their_transaction_in_the_one_shape(admin):
    pending = JobFactory(status=Job.Status.PENDING)
    with audit_context(user=admin, source="web"):
        assert pending.request_cancel()  # a QuerySet.update: the transition records it
    row = only_row(action=A.CANCEL)
    assert row.user == admin and row.resource_id == str(pending.job_id)
    assert row.details["changes"]["status"] == ["pending", "cancelled"]
    running = JobFactory(status=Job.Status.PENDING)
    assert running.start(worker="w:1")
    claim = only_row(action=A.UPDATE, resource_id=str(running.job_id))
    assert claim.details["changes"]["status"] == ["pending", "running"]
    assert claim.details["changes"]["worker"] == ["", "w:1"]
    with audit_context(user=admin, source="web"):
        assert running.request_cancel()
    flag = only_row(action=A.CANCEL, resource_id=str(running.job_id))
    assert flag.details["changes"] == {"cancel_requested": [False, True]}
    assert flag.details["status"] == "running"
    assert running.finish(Job.Status.CANCELLED, error_message="Cancelled while running.")
    end = rows(action=A.UPDATE, resource_id=str(running.job_id))[-1]
    assert end.details["changes"]["status"] == ["running", "cancelled"]
    assert end.details["changes"]["error_message"] == ["", "Cancelled while running."]


SECRET_VALUES = ["hunter2-value", "tok-3141", "AKIA-LEAK", "s3cr3t-deep", "ssh-contents"]


def test_no_secret_appears_in_any_audit_row(admin):
    private_key = (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nssh-contents\n-----END OPENSSH PRIVATE KEY-----"
    )
    with audit_context(user=admin, source="web"):
        person = UserFactory(username="kim")
        person.set_password("hunter2-value-long")
        person.save()
        job = JobFactory(
            extra_vars={
                "db_password": "hunter2-value",
                "API_TOKEN": "tok-3141",
                "nested": {
                    "aws_secret_access_key": "AKIA-LEAK",
                    "items": [{"Secret": "s3cr3t-deep"}],
                },
                "deploy_key_material": private_key,
                "release": "v2",
                "blob": private_key,
            }
        )
        job.extra_vars = {**job.extra_vars, "mypasswd": "hunter2-value"}
        job.save()
        audit_record(A.UPDATE, job, details={"credentials": "hunter2-value"})
    dump = json.dumps([r.details for r in AuditLog.objects.all()])
    for secret in [*SECRET_VALUES, person.password, "BEGIN OPENSSH"]:
        assert secret not in dump
    run = only_row(action=A.RUN)
    assert run.details["fields"]["extra_vars"]["nested"]["aws_secret_access_key"] == MASK
    assert run.details["fields"]["extra_vars"]["release"] == "v2"


def test_password_change_is_audited_once_and_a_hash_upgrade_is_not(user):
    AuditLog.objects.all().delete()  # the factory's own set_password
    user.set_password("another-pass-123")
    user.save()
    row = only_row(action=A.PASSWORD_CHANGE)
    assert row.resource_id == str(user.pk) and user.password not in json.dumps(row.details)
    # Django rehashes a password saved with an older hasher at login: same password, no row.
    from django.contrib.auth.hashers import make_password

    User.objects.filter(pk=user.pk).update(
        # A short salt makes Django's MD5 hasher ask for an upgrade.
        password=make_password("another-pass-123", salt="ab", hasher="md5")
    )
    fresh = User.objects.get(pk=user.pk)
    assert fresh.check_password("another-pass-123")
    assert User.objects.get(pk=user.pk).password.split("$")[1] != "ab"  # rehashed and saved
    assert len(rows(action=A.PASSWORD_CHANGE)) == 1
    assert not rows(action=A.UPDATE, resource_type="user")


def test_login_logout_and_failed_login_are_audited_with_ip(user):
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Browser/9")
    client.post("/login/", {"username": user.username, "password": "wrong"})
    client.post("/login/", {"username": user.username, "password": "pass-w0rd-42"})
    client.post("/logout/")
    failed = only_row(action=A.LOGIN_FAILED)
    assert failed.user is None and failed.ip_address == "203.0.113.9"
    assert failed.details == {"username": "ursula"}
    login = only_row(action=A.LOGIN)
    assert login.user == user and login.ip_address == "203.0.113.9"
    assert login.user_agent == "Browser/9" and login.resource_id == str(user.pk)
    logout = only_row(action=A.LOGOUT)
    assert logout.user == user and logout.ip_address == "203.0.113.9"
    # The last_login update of the login itself is noise, not an UPDATE.
    assert not rows(action=A.UPDATE)


def test_forwarded_ip_is_used_only_when_the_proxy_header_is_configured(user, settings):
    forged = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6")
    forged.post("/login/", {"username": user.username, "password": "nope"})
    assert only_row(action=A.LOGIN_FAILED).ip_address == "10.0.0.1"
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    # The proxy (10.0.0.1) appended the address it saw; the client had sent one of its own.
    proxied = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20")
    proxied.post("/login/", {"username": user.username, "password": "nope"})
    assert rows(action=A.LOGIN_FAILED)[-1].ip_address == "198.51.100.20"


def test_changes_through_a_page_carry_the_request_id_sent_back(as_super_admin, user):
    response = as_super_admin.post(
        f"/users/{user.pk}/edit/",
        {"email": "new@example.com", "role": "user", "is_active": "on", "timezone": "UTC"},
        REMOTE_ADDR="192.0.2.55",
    )
    assert response.status_code == 302
    row = only_row(action=A.UPDATE, resource_type="user")
    assert row.request_id == response["X-Request-ID"] and row.ip_address == "192.0.2.55"
    assert row.details["changes"]["email"][1] == "new@example.com"


def test_worker_code_is_recorded_with_the_user_who_started_it(user):
    job = JobFactory(user=user)
    with audit_context(user=job.user, source="worker"):
        job.error_message = "host unreachable"
        job.save()
    row = only_row(action=A.UPDATE, resource_type="job")
    assert row.user == user and row.details["source"] == "worker" and row.ip_address is None


def test_system_work_without_a_context_has_no_user():
    ServerFactory()
    row = only_row(action=A.CREATE)
    assert row.user is None and row.details["source"] == "system"


def test_a_management_command_is_recorded_as_the_system(capsys):
    call_command("seed_demo")
    created = rows(action=A.CREATE)
    kinds = sorted(row.resource_type for row in created)
    assert kinds == ["playbook", "playbook", "project", "server", "user"]
    assert all(row.user is None and row.details["source"] == "command" for row in created)
    assert not rows(action=A.PASSWORD_CHANGE)


def test_deleting_the_acting_user_itself_still_writes_the_row(admin):
    with audit_context(user=admin, source="web"):
        admin_pk = admin.pk
        admin.delete()
    row = only_row(action=A.DELETE, resource_type="user")
    assert row.user is None and row.resource_id == str(admin_pk)
    assert "password" not in row.details["fields"]


def test_the_ssh_key_path_is_recorded_as_a_path_not_masked():
    server = ServerFactory(ssh_key_path="fleet/id_ed25519")
    server.ssh_key_path = "fleet/id_rsa"
    server.save()
    created = only_row(action=A.CREATE, resource_type="server")
    assert created.details["fields"]["ssh_key_path"] == "fleet/id_ed25519"
    assert only_row(action=A.UPDATE).details["changes"]["ssh_key_path"] == [
        "fleet/id_ed25519",
        "fleet/id_rsa",
    ]


def test_create_rows_leave_out_empty_fields():
    ServerFactory(os_version="")
    fields = only_row(action=A.CREATE).details["fields"]
    assert "os_version" not in fields and fields["ssh_user"] == "deploy"


def test_the_same_instant_in_another_time_zone_is_not_a_change():
    from zoneinfo import ZoneInfo

    job = JobFactory(started_at=timezone.now())
    job.refresh_from_db()
    job.started_at = job.started_at.astimezone(ZoneInfo("Asia/Tokyo"))
    job.save()
    assert not rows(action=A.UPDATE, resource_type="job")


@pytest.mark.parametrize(
    "header, count, expected",
    [
        ("198.51.100.20", 1, "198.51.100.20"),
        ("6.6.6.6, 198.51.100.20", 1, "198.51.100.20"),
        ("6.6.6.6,198.51.100.20", 1, "198.51.100.20"),
        ("6.6.6.6, 198.51.100.20, 10.0.0.2", 2, "198.51.100.20"),
        ("198.51.100.20", 2, "10.0.0.1"),  # did not pass through both proxies
        ("6.6.6.6, not-an-ip", 1, None),
        ("", 1, "10.0.0.1"),
        ("6.6.6.6, 2001:db8::1", 1, "2001:db8::1"),
    ],
)
def test_client_ip_is_what_the_trusted_proxies_appended(settings, rf, header, count, expected):
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.TRUSTED_PROXY_COUNT = count
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=header)
    assert client_ip(request) == expected


def test_a_restore_is_recorded_as_restore():
    from automation.models import PlaybookVersion
    from automation.services.playbooks import playbook_create, playbook_restore, playbook_update

    playbook = playbook_create(name="Restored", description="", content="- hosts: all\n", user=None)
    first = PlaybookVersion.objects.get(playbook_id=playbook.pk)
    playbook_update(playbook=playbook, user=None, content="- hosts: web\n", base_sha256=None)
    playbook_restore(playbook=playbook, version=first, user=None)
    actions = [r.action for r in rows(resource_type="playbook", resource_id=str(playbook.pk))]
    assert actions == [A.CREATE, A.UPDATE, A.RESTORE]
    restore = rows(action=A.RESTORE)[0]
    assert (
        list(restore.details["changes"]["file_path"])
        and len(restore.details["changes"]["file_path"]) == 2
    )
