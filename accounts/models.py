"""Users of the app and their roles."""

import zoneinfo

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError("%(value)s is not a known IANA time zone.", params={"value": value})


class RoleUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.SUPER_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
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

    class Meta:
        db_table = "users"
        indexes = [models.Index(fields=["role"], name="idx_users_role")]

    def __str__(self):
        return self.username

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
