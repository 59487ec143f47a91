import re
from pathlib import Path

from django import forms
from django.core.exceptions import ValidationError

from inventory.keys import keys_dir, resolve_key_path
from inventory.models import Credential, Server, ServerGroup
from inventory.services import SERVER_FIELDS, validate_group_name
from inventory.variables import check_reserved_variables, parse_variables, variables_text

# RFC 1123: labels of letters, digits and hyphens, 1-63 long, not starting or ending with "-".
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# POSIX portable user names (useradd's default rule, upper case allowed).
POSIX_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


def validate_hostname(value):
    if len(value) > 253:
        raise ValidationError("A hostname is at most 253 characters.")
    labels = value.rstrip(".").split(".")
    if not value or not all(LABEL.match(label) for label in labels):
        raise ValidationError(
            "Enter a valid hostname (RFC 1123): letters, digits and hyphens in dot-separated "
            "labels of at most 63 characters, not starting or ending with a hyphen."
        )


class VariablesField(forms.CharField):
    """Variables typed as YAML or JSON, cleaned to a mapping (inventory/variables.py)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault(
            "widget",
            forms.Textarea(
                attrs={"class": "code short", "rows": 5, "placeholder": "http_port: 80"}
            ),
        )
        kwargs.setdefault(
            "help_text",
            "YAML or JSON mapping, e.g. 'http_port: 80'. Keys starting with ansible_ are "
            "admin-only.",
        )
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return variables_text(value) if isinstance(value, dict) else value

    def to_python(self, value):
        return parse_variables(super().to_python(value))


class ServerForm(forms.ModelForm):
    """Create or edit a server. Only a super_admin may choose (or keep) the local connection,
    which runs playbooks on the controller itself."""

    class Meta:
        model = Server
        fields = list(SERVER_FIELDS)
        labels = {
            "ip_address": "IP address",
            "credential": "SSH credential",
            "ssh_key_path": "SSH key file (legacy)",
            "become_credential": "Become credential",
            "ssh_port": "SSH port",
            "ssh_user": "SSH user",
            "os_type": "OS",
            "os_version": "OS version",
        }
        help_texts = {
            "credential": (
                "A stored SSH key or password (Credentials page, admins). Keys come from the "
                "credential store; a key file is only needed without one."
            ),
            "ssh_key_path": (
                "Without a credential: a private key file an operator copied into the SSH keys "
                "directory on the controller (SSH_KEYS_DIR). `manage.py import_ssh_keys` moves "
                "such files into the store."
            ),
            "become_credential": "The sudo/su password tasks with become: true use.",
            "connection": "Local runs playbooks on this controller (super admins only).",
        }

    variables = VariablesField(label="Host variables")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["ssh_key_path"].required = False
        self.fields["ssh_key_path"].widget.attrs["list"] = "ssh-keys"
        if not user.is_super_admin:
            self.fields["connection"].choices = [
                (value, label)
                for value, label in Server.Connection.choices
                if value != Server.Connection.LOCAL
            ]

    @staticmethod
    def available_keys():
        """Key files a person can pick from (public halves left out)."""
        base = keys_dir()
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(base))
            for p in base.rglob("*")
            if p.is_file() and p.suffix != ".pub" and not p.name.startswith(".")
        )

    def clean_hostname(self):
        value = self.cleaned_data["hostname"].strip().lower()
        validate_hostname(value)
        return value

    def clean_variables(self):
        variables = self.cleaned_data["variables"]
        check_reserved_variables(variables, user=self.user)
        return variables

    def clean_ssh_user(self):
        value = self.cleaned_data["ssh_user"].strip()
        if not POSIX_USER.match(value):
            raise ValidationError(
                "Enter a POSIX user name: a letter or underscore, then letters, digits, "
                "'.', '_' or '-', at most 32 characters."
            )
        return value

    def clean_connection(self):
        value = self.cleaned_data["connection"]
        if value == Server.Connection.LOCAL and not self.user.is_super_admin:
            raise ValidationError("Only a super admin can create a local-connection server.")
        return value

    def clean(self):
        cleaned = super().clean()
        key = (cleaned.get("ssh_key_path") or "").strip()
        if cleaned.get("connection") == Server.Connection.SSH and cleaned.get("credential"):
            cleaned["ssh_key_path"] = ""  # the stored credential wins: no file is needed
        elif cleaned.get("connection") == Server.Connection.SSH:
            try:
                real = resolve_key_path(key)
            except ValidationError as exc:
                self.add_error("ssh_key_path", exc)
            else:
                # Stored relative to the keys directory, so the directory can move.
                cleaned["ssh_key_path"] = str(Path(real).relative_to(keys_dir()))
        elif key:
            cleaned["ssh_key_path"] = ""
        return cleaned


class CredentialForm(forms.ModelForm):
    """Create or edit a credential. The secret inputs are write-only: they are never filled in
    when the page is shown again, and left blank on an edit they keep the stored value."""

    private_key = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text="SSH key or Git: paste the private key (OpenSSH or PEM), or upload it below.",
    )
    private_key_file = forms.FileField(required=False, label="Or upload the private key file")
    generate_key = forms.BooleanField(
        required=False,
        label="Generate a new ed25519 key pair",
        help_text="The private key is stored encrypted; the page then shows the public key.",
    )
    passphrase = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Only if the private key is encrypted.",
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="SSH password, become password or vault password.",
    )
    token = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Git over https: an access token (used as the password, never in the URL).",
    )

    class Meta:
        model = Credential
        fields = [
            "name",
            "kind",
            "description",
            "username",
            "become_method",
            "become_user",
            "vault_id",
        ]
        help_texts = {
            "username": "SSH: the login (empty: the server's SSH user). Git https: the user.",
            "vault_id": "The vault id label (--vault-id label@...); empty: default.",
        }

    SECRET_NAMES = ("private_key", "passphrase", "password", "token")
    MAX_KEY_BYTES = 64 * 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["kind"].disabled = True  # its secret fields depend on it
            for name in self.SECRET_NAMES:
                self.fields[name].help_text += " Leave blank to keep the stored value."

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("private_key_file")
        if upload:
            if upload.size > self.MAX_KEY_BYTES:
                self.add_error("private_key_file", "A private key file is far smaller than this.")
            else:
                cleaned["private_key"] = upload.read().decode("utf-8", "replace")
        return cleaned

    def secrets(self):
        return {name: self.cleaned_data.get(name) or "" for name in self.SECRET_NAMES}

    def plain_fields(self):
        return {name: self.cleaned_data[name] for name in self.Meta.fields if name != "kind"} | (
            {} if self.instance.pk else {"kind": self.cleaned_data["kind"]}
        )
class ServerGroupForm(forms.Form):
    """Create or edit a group: its name, variables, member servers and child groups."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    variables = VariablesField(label="Group variables")
    servers = forms.ModelMultipleChoiceField(
        queryset=Server.objects.order_by("hostname"), required=False
    )
    children = forms.ModelMultipleChoiceField(
        queryset=ServerGroup.objects.order_by("name"),
        required=False,
        label="Child groups",
        help_text="Groups nested inside this one (their hosts are in it too).",
    )

    def __init__(self, *args, user, group=None, **kwargs):
        if group is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": group.name,
                    "description": group.description,
                    "variables": group.variables,
                    "servers": list(group.servers.values_list("pk", flat=True)),
                    "children": list(group.children.values_list("pk", flat=True)),
                },
            )
        super().__init__(*args, **kwargs)
        self.user, self.group = user, group
        if group is not None:
            self.fields["children"].queryset = self.fields["children"].queryset.exclude(pk=group.pk)

    def clean_name(self):
        name = validate_group_name(self.cleaned_data["name"].strip())
        taken = ServerGroup.objects.filter(name=name)
        if self.group is not None:
            taken = taken.exclude(pk=self.group.pk)
        if taken.exists():
            raise ValidationError(f"A group named {name} exists already.")
        return name

    def clean_variables(self):
        variables = self.cleaned_data["variables"]
        check_reserved_variables(variables, user=self.user)
        return variables
