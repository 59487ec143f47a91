from django.contrib import admin

from core.admin import ReadOnlyAdmin
from inventory.models import Server, ServerMetric


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = (
        "hostname",
        "ip_address",
        "connection",
        "is_active",
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "last_monitored",
    )
    list_filter = ("is_active", "connection", "os_type")
    search_fields = ("hostname", "ip_address")
    readonly_fields = (
        "cpu_usage",
        "memory_usage",
        "disk_usage",
        "last_monitored",
        "last_error",
        "created_at",
        "updated_at",
    )


@admin.register(ServerMetric)
class ServerMetricAdmin(ReadOnlyAdmin):
    """Readings the collector writes: readable, never added, changed or deleted by hand (the
    retention command prunes them)."""

    list_display = ("server", "cpu", "memory", "disk", "collected_at")
    list_select_related = ("server",)
    raw_id_fields = ("server",)
    date_hierarchy = "collected_at"
    show_full_result_count = False
