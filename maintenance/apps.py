from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    """Retention (one registry for every purge), database upkeep, the database report and the
    schedules. No models: it works on the tables of the apps below it."""

    name = "maintenance"
    verbose_name = "Maintenance"
