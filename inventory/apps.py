from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        from inventory import checks  # noqa: F401 - registers the CREDENTIALS_KEY check
