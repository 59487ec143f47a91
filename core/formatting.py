"""How the pages write quantities: one format for every duration on every page."""

from datetime import timedelta

MISSING = "—"


def duration(value: timedelta | float | None) -> str:
    """A duration (a timedelta or seconds) as "4.2 s", "12 s", "4 min 05 s" or "2 h 03 min";
    "—" for None. Tenths only under ten seconds, where they still mean something."""
    if value is None:
        return MISSING
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
