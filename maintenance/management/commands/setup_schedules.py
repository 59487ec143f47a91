"""manage.py setup_schedules: the django-q2 schedules that keep the app and its database healthy."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from maintenance.schedules import FUNC, SCHEDULES, first_run, schedule_name


class Command(BaseCommand):
    help = (
        "Create or update the django-q2 schedules: purge_job_logs and purge_server_metrics "
        "daily, purge_audit_logs weekly, optimize_db monthly, poll_servers every minute, "
        "reap_jobs every 5 minutes, refresh_audit_stats every minute. Idempotent: run it as "
        "often as you like."
    )

    @transaction.atomic
    def handle(self, *args, **options):
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
            # Copies made by hand in the admin would run the command twice: keep the first.
            Schedule.objects.filter(pk__in=[r.pk for r in rows[1:]]).delete()
            if not rows:
                Schedule.objects.create(name=name, next_run=first_run(at, now), **spec)
                outcome = "created"
            else:
                row = rows[0]
                changed = {k: v for k, v in spec.items() if getattr(row, k) != v}
                if changed:
                    if {"schedule_type", "minutes"} & changed.keys():
                        changed["next_run"] = first_run(at, now)
                    Schedule.objects.filter(pk=row.pk).update(**changed)
                    outcome = "updated"
                else:
                    outcome = "unchanged"
            counts[outcome] += 1
            self.stdout.write(f"{outcome}: {name} ({dict(Schedule.TYPE)[kind]})")
        self.stdout.write(
            "Done. {created} created, {updated} updated, {unchanged} unchanged.".format(**counts)
        )
