from django import template

from automation.console import console_text

register = template.Library()


@register.filter
def duration_short(value):
    """A timedelta as '1h 02m', '3m 05s' or '4.2s'."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def console_plain(value):
    """Text printed by a playbook (an error message) without terminal escape sequences."""
    return console_text(value or "", colours=False)
