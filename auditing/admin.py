from django.contrib import admin

from auditing.models import AuditLog
from core.admin import ReadOnlyAdmin


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Audit rows are evidence: nobody adds, changes or deletes them here."""

    list_display = ("timestamp", "user", "action", "resource_type", "resource_id", "ip_address")
    list_filter = ("action", "resource_type")
    list_select_related = ("user",)
    search_fields = ("resource_id",)
