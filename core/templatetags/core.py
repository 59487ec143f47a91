"""Template filters every app's pages share: ``{% load core %}``."""

from django import template

from core import formatting

register = template.Library()


@register.filter
def duration(value):
    """``{{ job.duration|duration }}``: see ``core.formatting.duration``."""
    return formatting.duration(value)
