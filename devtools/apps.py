from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development helpers (the large-data generator). Installed only when DEVTOOLS is true,
    which defaults to DEBUG: never loaded in production."""

    name = "devtools"
    verbose_name = "Developer tools"
