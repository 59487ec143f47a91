"""Forms of the jobs pages: launch a job, filter the jobs list."""

from django import forms

from accounts.models import User
from automation.models import Job, Playbook
from automation.selectors.playbooks import launchable_playbooks
from automation.services.jobs import may_run_locally, parse_extra_vars
from automation.services.targets import validate_limit
from core.forms import DateRangeMixin, TimeCursorField, ascii_int
from inventory.models import Credential, Server, ServerGroup


class JobLaunchForm(forms.Form):
    """Launch a playbook on a target: one server, groups, a list of servers, or a project
    inventory file (any together), narrowed by a limit; the service checks the rest."""

    playbook = forms.ModelChoiceField(queryset=launchable_playbooks())
    server = forms.ModelChoiceField(
        queryset=Server.objects.filter(is_active=True),
        required=False,
        help_text="One server; or choose groups or several servers below.",
    )
    groups = forms.ModelMultipleChoiceField(
        queryset=ServerGroup.objects.order_by("name"),
        required=False,
        help_text="Run on every active server of these groups (nested groups included).",
    )
    servers = forms.ModelMultipleChoiceField(
        queryset=Server.objects.filter(is_active=True),
        required=False,
        label="Servers",
        help_text="Or a list of servers.",
    )
    inventory_path = forms.CharField(
        required=False,
        max_length=500,
        label="Project inventory file",
        help_text="A project playbook only: an inventory file of the project (e.g. "
        "inventory/hosts.ini), used besides or instead of the servers above.",
    )
    limit = forms.CharField(
        required=False,
        max_length=500,
        help_text="Ansible --limit pattern, e.g. web*:!web3 (optional).",
    )
    forks = forms.IntegerField(
        required=False, min_value=1, max_value=50, help_text="Hosts run in parallel (1-50)."
    )
    extra_vars = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(
            attrs={"class": "code short", "rows": 5, "placeholder": '{"version": "1.2.3"}'}
        ),
        help_text="A JSON object; empty for none.",
    )
    check_mode = forms.BooleanField(required=False, label="Check mode (dry run: change nothing)")
    # Users pick a stored vault password by name; its value never reaches them.
    vault_credential = forms.ModelChoiceField(
        queryset=Credential.objects.filter(kind=Credential.Kind.VAULT),
        required=False,
        label="Vault password",
        help_text="Opens the playbook's !vault values and vault files (--vault-id).",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if not may_run_locally(user):
            for name in ("server", "servers"):
                self.fields[name].queryset = self.fields[name].queryset.exclude(
                    connection=Server.Connection.LOCAL
                )

    def clean_limit(self):
        return validate_limit(self.cleaned_data["limit"])

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not (
            cleaned.get("server")
            or cleaned.get("groups")
            or cleaned.get("servers")
            or cleaned.get("inventory_path")
        ):
            raise forms.ValidationError(
                "Choose a target: a server, one or more groups, servers, or an inventory file."
            )
        return cleaned

    def clean_extra_vars(self):
        return parse_extra_vars(self.cleaned_data["extra_vars"], user=self.user)


def initial_from_query(params):
    """Preselect ?playbook=<pk>&server=<pk>; anything that is not a positive integer is
    ignored (the form then simply has no preselection)."""
    initial = {}
    for name in ("playbook", "server"):
        value = params.get(name, "")
        if (number := ascii_int(value, maximum=10**11)) is not None:
            initial[name] = number
    return initial


class JobFilterForm(DateRangeMixin, forms.Form):
    """Filters of the jobs list; every value is validated, bad ones become messages. Its
    cleaned_data are the arguments of automation.selectors.jobs.job_list."""

    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Job.Status.choices])
    playbook = forms.ModelChoiceField(queryset=Playbook.objects.order_by("name"), required=False)
    server = forms.ModelChoiceField(queryset=Server.objects.order_by("hostname"), required=False)
    user = forms.ModelChoiceField(queryset=User.objects.order_by("username"), required=False)
    # Keyset cursors (created_at, id): jobs older than ``before`` or newer than ``after``.
    before = TimeCursorField()
    after = TimeCursorField()
