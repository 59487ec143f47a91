from django.contrib import admin

from auditing.models import AuditLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are evidence: nobody adds, changes or deletes them here."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "user", "action", "resource_type", "resource_id", "ip_address")
    list_filter = ("action", "resource_type")
    list_select_related = ("user",)
    search_fields = ("resource_id",)
