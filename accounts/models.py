"""Users of the app and their roles."""

import zoneinfo

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from auditing.mixins import AuditedMixin
from auditing.models import AuditLog


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not a known IANA time zone.", params={"value": value})


class RoleUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.SUPER_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AuditedMixin, AbstractUser):
    """A person who logs in. The role decides what they may do; Django's staff and superuser
    flags are derived from it so the admin site follows the same rule (super_admin only)."""

    class Role(models.TextChoices):
        SUPER_ADMIN = "super_admin", "Super admin"
        ADMIN = "admin", "Admin"
        USER = "user", "User"

    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # created_at replaces AbstractUser.date_joined: one timestamp, named like the other tables.
    date_joined = None

    objects = RoleUserManager()
    REQUIRED_FIELDS = ["email"]

    audit_resource_type = "user"
    # is_staff/is_superuser follow the role (save), so the role change says it all; the password
    # hash is never stored, its change is a PASSWORD_CHANGE row (audit_events).
    audit_ignored_fields = frozenset(
        {"password", "last_login", "updated_at", "created_at", "is_staff", "is_superuser"}
    )
    audit_watched_fields = frozenset({"password"})

    class Meta:
        db_table = "users"
        indexes = [models.Index(fields=["role"], name="idx_users_role")]

    def __str__(self):
        return self.username

    def get_absolute_url(self):
        return reverse("user_edit", args=[self.pk])

    def audit_events(self, before):
        """A new password is PASSWORD_CHANGE; a hash Django upgraded at login (same password,
        new hasher: ``set_password`` did not run) is no change."""
        if "password" in before and before["password"] != self.password and self._password:
            yield AuditLog.Action.PASSWORD_CHANGE, {"username": self.username}

    def save(self, *args, **kwargs):
        self.is_staff = self.is_superuser = self.role == self.Role.SUPER_ADMIN
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "role" in update_fields:
            kwargs["update_fields"] = {*update_fields, "is_staff", "is_superuser"}
        super().save(*args, **kwargs)

    @property
    def is_admin(self):
        """Admins and super admins manage servers, playbooks, users and see the audit log."""
        return self.role in (self.Role.ADMIN, self.Role.SUPER_ADMIN)

    @property
    def is_super_admin(self):
        return self.role == self.Role.SUPER_ADMIN
