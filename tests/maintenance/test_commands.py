"""optimize_db and setup_schedules."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django_q.models import Schedule

from maintenance.dbreport import project_tables
from maintenance.schedules import FUNC, SCHEDULES, schedule_name

pytestmark = pytest.mark.django_db


def run(name, *args):
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


# OPTIMIZE/ANALYZE TABLE commit implicitly on MySQL: a transactional test keeps isolation.
@pytest.mark.django_db(transaction=True)
def test_optimize_db_analyzes_and_optimizes_every_project_table():
    out = StringIO()
    call_command("optimize_db", stdout=out)
    output = out.getvalue()

    if connection.vendor == "mysql":
        for table in project_tables():
            assert f"ANALYZE TABLE {table}:" in output
            assert f"OPTIMIZE TABLE {table}:" in output
    else:
        assert "ran ANALYZE" in output
        assert "OPTIMIZE TABLE exists only on MySQL/MariaDB" in output
    assert "Done in" in output


@pytest.mark.django_db(transaction=True)
def test_optimize_db_analyze_only_skips_optimize():
    output = run("optimize_db", "--analyze-only")

    assert "OPTIMIZE TABLE " not in output.replace("OPTIMIZE TABLE exists", "")
    if connection.vendor == "mysql":
        assert "ANALYZE TABLE job_logs:" in output
        assert "status: OK" in output


def test_setup_schedules_creates_each_schedule_once_however_often_it_runs():
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    first = out.getvalue()
    run("setup_schedules")
    last = run("setup_schedules")

    n = len(SCHEDULES)
    assert f"Done. {n} created, 0 updated, 0 unchanged." in first
    assert f"Done. 0 created, 0 updated, {n} unchanged." in last
    assert Schedule.objects.count() == len(SCHEDULES)
    for command, *_ in SCHEDULES:
        assert Schedule.objects.filter(name=schedule_name(command)).count() == 1


def test_schedules_call_the_management_commands_with_the_required_cadence():
    run("setup_schedules")

    cadence = {
        s.args: (s.schedule_type, s.minutes, s.func, s.repeats) for s in Schedule.objects.all()
    }
    assert cadence == {
        "('purge_job_logs',)": (Schedule.DAILY, None, FUNC, -1),
        "('purge_server_metrics',)": (Schedule.DAILY, None, FUNC, -1),
        "('purge_audit_logs',)": (Schedule.WEEKLY, None, FUNC, -1),
        "('optimize_db',)": (Schedule.MONTHLY, None, FUNC, -1),
        "('poll_servers',)": (Schedule.MINUTES, 1, FUNC, -1),
        "('reap_jobs',)": (Schedule.MINUTES, 1, FUNC, -1),
        "('refresh_audit_stats',)": (Schedule.MINUTES, 1, FUNC, -1),
        "('clearsessions',)": (Schedule.DAILY, None, FUNC, -1),
        "('prune_snapshots',)": (Schedule.DAILY, None, FUNC, -1),
    }
    assert FUNC == "django.core.management.call_command"


def test_setup_schedules_puts_a_changed_schedule_back_in_place():
    run("setup_schedules")
    name = schedule_name("purge_job_logs")
    original = Schedule.objects.get(name=name)
    Schedule.objects.filter(pk=original.pk).update(schedule_type=Schedule.HOURLY, args="'oops'")
    Schedule.objects.create(name=name, func=FUNC, args="('purge_job_logs',)")  # a stray copy

    output = run("setup_schedules")

    assert "updated: manage.py purge_job_logs" in output
    row = Schedule.objects.get(name=name)
    assert row.pk == original.pk
    assert (row.schedule_type, row.args) == (Schedule.DAILY, "('purge_job_logs',)")


def test_a_scheduled_purge_runs_the_command_itself(settings):
    """What the worker does with a schedule row: import func and call it with the args."""
    import ast

    from django.utils.module_loading import import_string

    settings.JOB_LOG_RETENTION_DAYS = 0
    run("setup_schedules")
    schedule = Schedule.objects.get(name=schedule_name("purge_job_logs"))
    out = StringIO()

    import_string(schedule.func)(*ast.literal_eval(schedule.args), stdout=out)

    assert "skipped" in out.getvalue()
