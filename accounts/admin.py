from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.models import User
from accounts.services import LAST_SUPER_ADMIN, other_active_super_admins, removes_last_super_admin

LAST_SUPER_ADMIN_DELETE = "the last active super admin ({}): it cannot be deleted"
HAS_ACTED = (
    "{}: has acted (the audit trail or playbook history names them), so cannot be deleted; "
    "deactivate the account instead (untick Active)"
)


def users_who_acted(users):
    """The users among ``users`` whom an audit or playbook history row names: the trail keeps
    its actors, so they are deactivated, never deleted (the foreign keys are PROTECT too)."""
    pks = [u.pk for u in users]
    acted = set(
        User.objects.filter(pk__in=pks, audit_logs__isnull=False).values_list("pk", flat=True)
    ) | set(
        User.objects.filter(pk__in=pks, playbook_changes__isnull=False).values_list("pk", flat=True)
    )
    return [u for u in users if u.pk in acted]


class AdminUserChangeForm(UserChangeForm):
    """The admin's change form, with the users page's rule: the last active super_admin
    keeps its role and stays active. The admin validates inside its transaction, so the lock
    taken here holds until the save commits."""

    def clean(self):
        cleaned = super().clean()
        stored = User.objects.filter(pk=self.instance.pk).values("role", "is_active").first()
        if not stored or stored["role"] != User.Role.SUPER_ADMIN or not stored["is_active"]:
            return cleaned
        stays = cleaned.get("role", stored["role"]) == User.Role.SUPER_ADMIN and cleaned.get(
            "is_active", True
        )
        with transaction.atomic():  # a savepoint in the admin's transaction: the lock holds
            if not stays and not other_active_super_admins(excluding=[self.instance.pk]):
                raise ValidationError(LAST_SUPER_ADMIN)
        return cleaned


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = AdminUserChangeForm
    list_display = ("username", "email", "role", "is_active", "last_login", "created_at")
    list_filter = ("role", "is_active")
    search_fields = ("username", "email")
    ordering = ("username",)
    readonly_fields = ("last_login", "created_at", "updated_at", "is_staff", "is_superuser")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "email", "timezone")}),
        ("Access", {"fields": ("role", "is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "password1", "password2"),
            },
        ),
    )

    def get_deleted_objects(self, objs, request):
        """The delete page and the bulk "delete selected" action both ask this first: listing
        the last super_admin as protected makes the admin refuse the deletion, with its own
        "cannot be deleted" page, before anything is removed.

        A user who has acted is refused first, with one line each: the default collector would
        list every audit row that protects them, possibly millions."""
        users = list(objs)
        refused = [HAS_ACTED.format(u.username) for u in users_who_acted(users)]
        with transaction.atomic():
            last_one = removes_last_super_admin(users)
        if last_one:
            last = [u for u in users if u.is_super_admin and u.is_active]
            refused.append(LAST_SUPER_ADMIN_DELETE.format(", ".join(u.username for u in last)))
        if refused:
            return [], {}, set(), refused
        return super().get_deleted_objects(objs, request)

    def delete_model(self, request, obj):
        self.delete_queryset(request, User.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        # Checked again under the lock: two admins deleting the last two super_admins at once.
        with transaction.atomic():
            if removes_last_super_admin(list(queryset)):
                raise PermissionDenied(LAST_SUPER_ADMIN)
            if acted := users_who_acted(list(queryset)):
                raise PermissionDenied(HAS_ACTED.format(acted[0].username))
            super().delete_queryset(request, queryset)


# Groups and permissions are unused (access follows the role): without a page for them there
# is no unaudited way to grant a permission.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
