"""Date filters of the list pages: whole days in the viewer's time zone (the active one)."""

from datetime import date, datetime, time, timedelta

from django.db.models import Q
from django.utils import timezone


def within_days(field: str, date_from: date | None, date_to: date | None) -> Q:
    """``field`` (a datetime) on or after the start of ``date_from`` and before the end of
    ``date_to`` (the end day included); either may be None."""
    tz = timezone.get_current_timezone()
    condition = Q()
    if date_from:
        condition &= Q(**{f"{field}__gte": datetime.combine(date_from, time.min, tz)})
    if date_to:
        end = datetime.combine(date_to, time.min, tz) + timedelta(days=1)
        condition &= Q(**{f"{field}__lt": end})
    return condition
