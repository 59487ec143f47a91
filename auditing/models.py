"""The audit trail: who did what, when and from where. Rows are append-only: no page or admin
edits or deletes them; only the retention command removes old ones."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditLog(models.Model):
    """One action by a person or by the system (``user`` empty)."""

    class Action(models.TextChoices):
        CREATE = "CREATE", "Create"
        UPDATE = "UPDATE", "Update"
        DELETE = "DELETE", "Delete"
        LOGIN = "LOGIN", "Login"
        LOGOUT = "LOGOUT", "Logout"
        LOGIN_FAILED = "LOGIN_FAILED", "Login failed"
        LOGIN_BLOCKED = "LOGIN_BLOCKED", "Login blocked"
        RUN = "RUN", "Run"
        CANCEL = "CANCEL", "Cancel"
        RELAUNCH = "RELAUNCH", "Relaunch"
        RESTORE = "RESTORE", "Restore"
        SYNC = "SYNC", "Sync"
        PURGE = "PURGE", "Purge"
        PASSWORD_CHANGE = "PASSWORD_CHANGE", "Password change"
        # A run used a stored credential (details name the job).
        USE = "USE", "Use"

    id = models.BigAutoField(primary_key=True)
    # PROTECT: a user who has acted is deactivated, never deleted (accounts/admin.py says so).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_logs",
        db_index=False,
    )
    # Who acted, as they were when the row was written: a later rename, role change or the
    # user's removal never changes the trail. Empty for the system.
    username = models.CharField(max_length=150, blank=True, default="", db_default="")
    user_role = models.CharField(max_length=20, blank=True, default="", db_default="")
    action = models.CharField(max_length=32, choices=Action.choices)
    resource_type = models.CharField(max_length=50, blank=True)
    # A string so that UUIDs (jobs) and integer ids fit alike.
    resource_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    timestamp = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "audit_logs"
        indexes = [
            models.Index(fields=["user"], name="idx_audit_user"),
            models.Index(fields=["action"], name="idx_audit_action"),
            models.Index(fields=["resource_type"], name="idx_audit_resource_type"),
            models.Index(fields=["timestamp"], name="idx_audit_timestamp"),
            models.Index(fields=["resource_type", "resource_id"], name="idx_audit_resource"),
            # Login throttling counts one username's recent failures from one address
            # (resource_type "login", resource_id the username): accounts/throttle.py.
            models.Index(
                fields=["resource_type", "resource_id", "ip_address", "timestamp"],
                name="idx_audit_login_throttle",
            ),
        ]

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.action} {self.resource_type}"

    def save(self, *args, **kwargs):
        stamp_actor(self)
        super().save(*args, **kwargs)

    @property
    def actor(self):
        """The name shown for who acted: as written, else "system"."""
        return self.username or "system"


def stamp_actor(row):
    """Copy the acting user's username and role onto ``row`` (an AuditLog or a playbook
    history row) when they are not set yet, so the row keeps them whatever happens to the
    user later."""
    if row.user_id and not row.username:
        user = row.user
        row.username, row.user_role = user.username, getattr(user, "role", "")
