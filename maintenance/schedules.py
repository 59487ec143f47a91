"""The django-q2 schedules that keep the app and its database healthy, as data.

``manage.py setup_schedules`` writes them. Every schedule calls the management command itself
through call_command: one source of truth, and the command reads its own settings (a retention
of 0 makes a purge log "skipped" and delete nothing). The purges' cadence comes from the
retention registry.
"""

from datetime import UTC, datetime, time, timedelta

from django_q.models import Schedule

from maintenance.retention import RETENTION

# (command, schedule type, minutes between runs, first run at UTC time of day).
SCHEDULES = [(r.command, r.schedule_type, None, r.first_run_at) for r in RETENTION] + [
    ("optimize_db", Schedule.MONTHLY, None, time(4, 0)),
    ("poll_servers", Schedule.MINUTES, 1, None),
    # Fails jobs whose worker went silent (WORKER_LOST_SECONDS) within about a minute more.
    ("reap_jobs", Schedule.MINUTES, 1, None),
    # The analytics audit figures lag audit_logs by up to this interval (the page only reads).
    ("refresh_audit_stats", Schedule.MINUTES, 1, None),
    # Expired sessions stay in django_session until someone removes them (Django's own command).
    ("clearsessions", Schedule.DAILY, None, time(3, 30)),
    ("prune_snapshots", Schedule.DAILY, None, time(3, 45)),
]
FUNC = "django.core.management.call_command"


def schedule_name(command):
    return f"manage.py {command}"


def first_run(at, now):
    """The next time of day ``at`` (UTC) after ``now``; now itself for interval schedules."""
    if at is None:
        return now
    candidate = datetime.combine(now.date(), at, tzinfo=UTC)
    return candidate if candidate > now else candidate + timedelta(days=1)
