"""Admin building blocks shared by the apps' admin modules."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that are evidence or machine-written (audit rows, playbook versions,
    console lines): readable in the admin, never added, changed or deleted by hand."""

    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
