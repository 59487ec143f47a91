from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Installed only so Django finds ``core/templatetags``; core has no models."""

    name = "core"
    verbose_name = "Core"
