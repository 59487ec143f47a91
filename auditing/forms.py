"""The audit page's filters: every query-string value is validated here, so a bad one is a
message on the page, never a 500."""

import uuid
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User
from auditing.models import AuditLog
from core.forms import MAX_ID, DateRangeMixin

RESOURCE_TYPES = [
    ("user", "User"),
    ("server", "Server"),
    ("playbook", "Playbook"),
    ("job", "Job"),
    ("login", "Login attempt (username)"),
]
NUMERIC_RESOURCES = {"user", "server", "playbook"}


class AuditFilterForm(DateRangeMixin, forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.order_by("username"),
        required=False,
        label="User",
        empty_label="Anyone",
        error_messages={"invalid_choice": "No such user."},
    )
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditLog.Action.choices],
        required=False,
        label="Action",
        error_messages={"invalid_choice": "Unknown action %(value)s."},
    )
    resource_type = forms.ChoiceField(
        choices=[("", "Any resource"), *RESOURCE_TYPES],
        required=False,
        label="Resource type",
        error_messages={"invalid_choice": "Unknown resource type %(value)s."},
    )
    resource_id = forms.CharField(max_length=64, required=False, label="Resource id")
    q = forms.CharField(max_length=200, required=False, label="Text in details")
    # Keyset cursors: rows older than ``before`` or newer than ``after`` (audit row ids).
    before = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    after = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def clean(self):
        data = super().clean()
        kind, resource_id = data.get("resource_type"), data.get("resource_id")
        if (
            resource_id
            and kind in NUMERIC_RESOURCES
            and not (resource_id.isascii() and resource_id.isdigit())
        ):
            self.add_error("resource_id", f"A {kind} id is a whole number.")
        if resource_id and kind == "job":
            try:
                data["resource_id"] = str(uuid.UUID(resource_id))
            except ValueError:
                self.add_error("resource_id", "A job id is a UUID (as shown on the job page).")
        if data.get("before") and data.get("after"):
            raise ValidationError("Ask for older or newer rows, not both.")
        return data

    def error_lines(self):
        """(field label, message) for each error, to say which filter is wrong in words."""
        for name, messages in self.errors.items():
            label = self.fields[name].label or name if name in self.fields else "Filters"
            if name in ("before", "after"):
                label = "Page cursor"
            for message in messages:
                yield label, message

    def queryset(self):
        """The filtered rows, newest first. Dates are days in the viewer's time zone."""
        data = self.cleaned_data
        rows = AuditLog.objects.select_related("user").order_by("-id")
        if data.get("user"):
            rows = rows.filter(user=data["user"])
        if data.get("action"):
            rows = rows.filter(action=data["action"])
        if data.get("resource_type"):
            rows = rows.filter(resource_type=data["resource_type"])
        if data.get("resource_id"):
            rows = rows.filter(resource_id=data["resource_id"])
        rows = self.filter_dates(rows, "timestamp")
        if data.get("q"):
            rows = rows.filter(details__icontains=data["q"])
        return rows

    def query_string(self, **cursor):
        """These filters (without the cursors) as a query string, plus ``cursor``."""
        params = {
            name: self.data.get(name, "")
            for name in self.fields
            if name not in ("before", "after") and self.data.get(name)
        }
        params.update(cursor)
        return urlencode(params)
