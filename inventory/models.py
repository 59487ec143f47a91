"""The server inventory and the history of each server's resource usage."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from auditing.mixins import AuditedMixin
from auditing.models import AuditLog
from inventory import crypto

percent = [MinValueValidator(0), MaxValueValidator(100)]


class Credential(AuditedMixin, models.Model):
    """A secret a run needs: an SSH key or password, a become password, a vault password or
    Git access. Admins manage them; users only pick one by name.

    The secret fields (private key, passphrase, password, token) live in ``secret``, one Fernet
    token of their JSON (inventory/crypto.py); they are write-only: no page, audit row or log
    shows them again. The other fields are what a page may show instead (``fingerprint``,
    ``public_key``, ``secret_set_at``)."""

    class Kind(models.TextChoices):
        SSH_KEY = "ssh_key", "SSH key"
        SSH_PASSWORD = "ssh_password", "SSH password"
        BECOME = "become", "Become (sudo/su) password"
        VAULT = "vault", "Vault password"
        GIT = "git", "Git access (token or SSH key)"

    class BecomeMethod(models.TextChoices):
        SUDO = "sudo", "sudo"
        SU = "su", "su"
        DOAS = "doas", "doas"

    # The secret fields each kind accepts (keys of the encrypted JSON).
    SECRET_FIELDS = {
        Kind.SSH_KEY: ("private_key", "passphrase"),
        Kind.SSH_PASSWORD: ("password",),
        Kind.BECOME: ("password",),
        Kind.VAULT: ("password",),
        Kind.GIT: ("token", "private_key", "passphrase"),
    }

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    # SSH user (ssh_key / ssh_password; empty: the server's own) or Git user name (https token).
    username = models.CharField(max_length=100, blank=True)
    become_method = models.CharField(
        max_length=10, choices=BecomeMethod.choices, blank=True, default=""
    )
    become_user = models.CharField(max_length=32, blank=True)
    vault_id = models.CharField(max_length=100, blank=True)
    # The public half and its SHA256 fingerprint: what pages show for an SSH key.
    public_key = models.TextField(blank=True)
    fingerprint = models.CharField(max_length=100, blank=True)
    # Fernet token of {"private_key": ..., "passphrase": ..., "password": ..., "token": ...}.
    secret = models.TextField(blank=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_resource_type = "credential"
    # The token never reaches an audit row; its change is a "secret changed" row.
    audit_ignored_fields = frozenset({"secret", "created_at", "updated_at"})
    audit_watched_fields = frozenset({"secret"})
    audit_unmasked_fields = frozenset({"public_key", "secret_set_at"})

    class Meta:
        db_table = "credentials"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("credential_edit", args=[self.pk])

    def audit_events(self, before):
        if "secret" in before and before["secret"] and before["secret"] != self.secret:
            yield AuditLog.Action.UPDATE, {"changed": ["secret value"], "name": self.name}

    def secrets(self):
        """The decrypted secret fields (a dict). Raises crypto.CredentialsKeyError."""
        return crypto.decrypt(self.secret)

    def set_secrets(self, values):
        """Encrypt ``values`` (only the non-empty fields of this kind) into ``secret``."""
        allowed = self.SECRET_FIELDS[self.Kind(self.kind)]
        self.secret = crypto.encrypt({k: v for k, v in values.items() if k in allowed and v})
        self.secret_set_at = timezone.now()


class Server(AuditedMixin, models.Model):
    """A host playbooks run against and the collector polls over SSH.

    ``connection`` is ``ssh`` for every real host; ``local`` runs Ansible on the controller
    itself (the demo ``localhost``) and only a super_admin may create or edit such a server.
    """

    class Connection(models.TextChoices):
        SSH = "ssh", "SSH"
        LOCAL = "local", "Local (on the controller)"

    hostname = models.CharField(max_length=255, unique=True)
    ip_address = models.GenericIPAddressField(db_index=True)
    os_type = models.CharField(max_length=50, blank=True)
    os_version = models.CharField(max_length=100, blank=True)
    ssh_port = models.PositiveIntegerField(
        default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    ssh_user = models.CharField(max_length=32, default="root")
    # Relative to settings.SSH_KEYS_DIR (or absolute inside it); validated by the forms.
    ssh_key_path = models.CharField(max_length=500, blank=True)
    # A stored SSH key (or password) credential; when set it wins over ssh_key_path.
    credential = models.ForeignKey(
        Credential,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="servers",
        limit_choices_to={"kind__in": ["ssh_key", "ssh_password"]},
    )
    become_credential = models.ForeignKey(
        Credential,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="become_servers",
        limit_choices_to={"kind": "become"},
    )
    connection = models.CharField(max_length=10, choices=Connection.choices, default=Connection.SSH)
    is_active = models.BooleanField(default=True)
    cpu_usage = models.FloatField(null=True, blank=True, validators=percent)
    memory_usage = models.FloatField(null=True, blank=True, validators=percent)
    disk_usage = models.FloatField(null=True, blank=True, validators=percent)
    last_monitored = models.DateTimeField(null=True, blank=True)
    # Why the last poll or connection test failed; empty after a success.
    last_error = models.TextField(blank=True)
    # Host variables for Ansible (a mapping; see inventory/variables.py). A database default,
    # so adding the column is a metadata change.
    variables = models.JSONField(default=dict, blank=True, db_default={})
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_resource_type = "server"
    # Values the metrics collector and the ORM write are not decisions anyone made.
    audit_ignored_fields = frozenset(
        {
            "cpu_usage",
            "memory_usage",
            "disk_usage",
            "last_monitored",
            "last_error",
            "updated_at",
            "created_at",
        }
    )
    # A file name inside SSH_KEYS_DIR; the key's contents never reach the database.
    audit_unmasked_fields = frozenset({"ssh_key_path", "credential", "become_credential"})

    class Meta:
        db_table = "servers"
        ordering = ["hostname"]

    def __str__(self):
        return self.hostname

    def get_absolute_url(self):
        return reverse("server_detail", args=[self.pk])

    @property
    def is_local(self):
        return self.connection == self.Connection.LOCAL


class ServerMetric(models.Model):
    """One sample of a server's CPU, memory and disk use, appended by every poll."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="metrics")
    cpu = models.FloatField(null=True, validators=percent)
    memory = models.FloatField(null=True, validators=percent)
    disk = models.FloatField(null=True, validators=percent)
    collected_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "server_metrics"
        indexes = [
            # The charts read one server's samples over a time range.
            models.Index(fields=["server", "collected_at"], name="idx_metrics_server_time"),
            # Retention deletes by age across all servers.
            models.Index(fields=["collected_at"], name="idx_metrics_collected_at"),
        ]

    def __str__(self):
        return f"{self.server_id} @ {self.collected_at:%Y-%m-%d %H:%M}"


class ServerGroup(AuditedMixin, models.Model):
    """A named group of servers, as an Ansible inventory group: ``hosts: <name>`` in a play
    targets its members and the members of its child groups. ``variables`` become group vars.

    Nesting: ``children`` are groups inside this one (Ansible's ``children:``). A group is
    never its own descendant; inventory/services.py refuses a change that would make a cycle.
    """

    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    variables = models.JSONField(default=dict, blank=True)
    servers = models.ManyToManyField(
        Server, related_name="groups", blank=True, db_table="server_group_members"
    )
    children = models.ManyToManyField(
        "self",
        symmetrical=False,
        related_name="parents",
        blank=True,
        db_table="server_group_children",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    audit_resource_type = "server_group"
    audit_ignored_fields = frozenset({"created_at", "updated_at"})

    class Meta:
        db_table = "server_groups"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("group_edit", args=[self.pk])
