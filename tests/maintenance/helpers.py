"""Helpers for the maintenance tests: rows created now, then back-dated with ``update()``."""

from datetime import timedelta

from django.utils import timezone

from automation.models import JobLog


def add_lines(job, count, *, days_old=0, start=1):
    """``count`` console lines for ``job``, their timestamps ``days_old`` days in the past."""
    rows = JobLog.objects.bulk_create(
        JobLog(job=job, line_number=start + i, content=f"line {start + i}") for i in range(count)
    )
    if days_old:
        backdate(JobLog.objects.filter(job=job, line_number__gte=start), "timestamp", days_old)
    return rows


def backdate(queryset, field, days):
    """Move ``field`` of every row in ``queryset`` ``days`` days into the past."""
    return queryset.update(**{field: timezone.now() - timedelta(days=days)})
