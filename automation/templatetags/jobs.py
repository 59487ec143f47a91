from django import template

from automation.console import console_text

register = template.Library()


@register.filter
def console_plain(value):
    """Text printed by a playbook (an error message) without terminal escape sequences."""
    return console_text(value or "", colours=False)
