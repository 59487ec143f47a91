"""Forms of the jobs pages: launch a job, filter the jobs list."""

from django import forms

from accounts.models import User
from automation.models import Job, Playbook
from automation.selectors.playbooks import launchable_playbooks
from automation.services.jobs import may_run_locally, parse_extra_vars
from core.forms import DateRangeMixin, TimeCursorField, ascii_int
from inventory.models import Credential, Server


class JobLaunchForm(forms.Form):
    playbook = forms.ModelChoiceField(queryset=launchable_playbooks())
    server = forms.ModelChoiceField(queryset=Server.objects.filter(is_active=True))
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
            self.fields["server"].queryset = self.fields["server"].queryset.exclude(
                connection=Server.Connection.LOCAL
            )

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
