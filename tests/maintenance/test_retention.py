"""One retention registry: the purge commands, the schedules and the database report all read it,
and schedules stored before the maintenance app existed keep running."""

import ast
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command, get_commands, load_command_class
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from auditing.models import AuditLog
from maintenance import dbreport
from maintenance.retention import RETENTION, retention_for
from maintenance.schedules import SCHEDULES, schedule_name

pytestmark = pytest.mark.django_db

# The rows the previous release's setup_schedules stored, exactly (func, args, type, minutes).
STORED_BEFORE = [
    ("purge_job_logs", Schedule.DAILY, None),
    ("purge_server_metrics", Schedule.DAILY, None),
    ("purge_audit_logs", Schedule.WEEKLY, None),
    ("optimize_db", Schedule.MONTHLY, None),
    ("poll_servers", Schedule.MINUTES, 1),
    ("reap_jobs", Schedule.MINUTES, 5),
]


def test_every_purge_command_is_its_registry_entry():
    commands = get_commands()
    for entry in RETENTION:
        assert commands[entry.command] == "maintenance"
        command = load_command_class("maintenance", entry.command)
        assert command.retention is entry
        assert entry.table in command.help and entry.setting in command.help
    assert retention_for("purge_audit_logs").min_days == 365
    assert {r.table for r in RETENTION} == {"job_logs", "audit_logs", "server_metrics"}


def test_the_schedules_and_the_report_follow_the_registry(settings):
    settings.SERVER_METRICS_RETENTION_DAYS = 7
    scheduled = {command: (kind, at) for command, kind, _, at in SCHEDULES}
    for entry in RETENTION:
        assert scheduled[entry.command] == (entry.schedule_type, entry.first_run_at)
    report = dbreport.build_report()["retention"]
    assert [(r["table"], r["setting"], r["command"]) for r in report] == [
        (e.table, e.setting, e.command) for e in RETENTION
    ]
    assert {r["table"]: r["days"] for r in report}["server_metrics"] == 7


def test_a_purge_is_audited_through_audit_record_like_every_other_system_action():
    call_command("purge_server_metrics", "--days", "30", stdout=StringIO())
    row = AuditLog.objects.get(action=AuditLog.Action.PURGE)
    assert row.resource_type == "server_metrics" and row.user is None
    # audit_record says what acted outside a request, as for every other non-web row.
    assert row.details["source"] == "system" and row.details["deleted"] == 0


def test_schedules_stored_by_the_previous_release_keep_running_and_are_kept(settings):
    """Schedules store call_command and a command name; the commands kept their names when they
    moved to the maintenance app, so the stored rows still run and setup_schedules keeps them."""
    for command, kind, minutes in STORED_BEFORE:
        Schedule.objects.create(
            name=schedule_name(command),
            func="django.core.management.call_command",
            args=repr((command,)),
            schedule_type=kind,
            minutes=minutes,
            repeats=-1,
            next_run=timezone.now() + timedelta(hours=1),
        )
    settings.JOB_LOG_RETENTION_DAYS = 0
    for schedule in Schedule.objects.all():
        # What the worker does with a row: import func, call it with the args.
        assert ast.literal_eval(schedule.args)[0] in get_commands()
    job_logs = Schedule.objects.get(name=schedule_name("purge_job_logs"))
    out = StringIO()
    import_string(job_logs.func)(*ast.literal_eval(job_logs.args), stdout=out)
    assert "skipped" in out.getvalue()

    output = StringIO()
    call_command("setup_schedules", stdout=output)
    call_command("setup_schedules", stdout=output)
    # Added since: refresh_audit_stats, clearsessions; reap_jobs now runs every minute.
    new = len(SCHEDULES) - len(STORED_BEFORE)
    assert (
        f"Done. {new} created, 1 updated, {len(STORED_BEFORE) - 1} unchanged."
        in output.getvalue()
    )
    assert f"Done. 0 created, 0 updated, {len(SCHEDULES)} unchanged." in output.getvalue()
    assert Schedule.objects.count() == len(SCHEDULES)
