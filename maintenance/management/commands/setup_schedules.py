"""manage.py setup_schedules: the django-q2 schedules that keep the app and its database healthy."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from auditing.context import audit_context
from auditing.models import AuditLog
from auditing.services import audit_record, jsonable
from maintenance.schedules import FUNC, SCHEDULES, first_run, schedule_name


class Command(BaseCommand):
    help = (
        "Create or update the django-q2 schedules: purge_job_logs and purge_server_metrics "
        "daily, purge_audit_logs weekly, optimize_db monthly, poll_servers every minute, "
        "reap_jobs every 5 minutes, refresh_audit_stats every minute. Idempotent: run it as "
        "often as you like."
    )

    def handle(self, *args, **options):
        # A schedule runs code on the worker: every change to one is an audit row, written in
        # the same transaction.
        with audit_context(source="command"), transaction.atomic():
            self._apply()

    def _apply(self):
        now = timezone.now()
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for command, kind, minutes, at in SCHEDULES:
            spec = {
                "func": FUNC,
                "args": repr((command,)),
                "kwargs": None,
                "schedule_type": kind,
                "minutes": minutes,
                "repeats": -1,
            }
            name = schedule_name(command)
            rows = list(Schedule.objects.select_for_update().filter(name=name).order_by("pk"))
            # Copies made earlier by hand would run the command twice: keep the first.
            for copy in rows[1:]:
                _audit(AuditLog.Action.DELETE, copy.pk, {"fields": _fields(copy)})
            Schedule.objects.filter(pk__in=[r.pk for r in rows[1:]]).delete()
            if not rows:
                row = Schedule.objects.create(name=name, next_run=first_run(at, now), **spec)
                _audit(AuditLog.Action.CREATE, row.pk, {"fields": _fields(row)})
                outcome = "created"
            else:
                row = rows[0]
                changed = {k: v for k, v in spec.items() if getattr(row, k) != v}
                if changed:
                    if {"schedule_type", "minutes"} & changed.keys():
                        changed["next_run"] = first_run(at, now)
                    Schedule.objects.filter(pk=row.pk).update(**changed)
                    old = {k: getattr(row, k) for k in changed}
                    changes = {k: [jsonable(old[k]), jsonable(v)] for k, v in changed.items()}
                    _audit(AuditLog.Action.UPDATE, row.pk, {"changes": changes, "name": name})
                    outcome = "updated"
                else:
                    outcome = "unchanged"
            counts[outcome] += 1
            self.stdout.write(f"{outcome}: {name} ({dict(Schedule.TYPE)[kind]})")
        self.stdout.write(
            "Done. {created} created, {updated} updated, {unchanged} unchanged.".format(**counts)
        )


SCHEDULE_FIELDS = (
    "name",
    "func",
    "args",
    "kwargs",
    "schedule_type",
    "minutes",
    "repeats",
    "next_run",
)


def _fields(row):
    return {name: jsonable(getattr(row, name)) for name in SCHEDULE_FIELDS}


def _audit(action, pk, details):
    audit_record(action, resource_type="schedule", resource_id=str(pk), details=details)
