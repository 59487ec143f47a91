"""The audit page's filters: every query-string value is validated here, so a bad one is a
message on the page, never a 500."""

from urllib.parse import urlencode

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from auditing.mixins import audited_model, audited_models
from auditing.models import AuditLog
from core.forms import MAX_ID, DateRangeMixin


def resource_type_choices():
    """The models that opted into the trail, then login attempts (named by username)."""
    choices = [(m.audit_type(), str(m._meta.verbose_name).capitalize()) for m in audited_models()]
    return [("", "Any resource"), *choices, ("login", "Login attempt (username)")]


class AuditFilterForm(DateRangeMixin, forms.Form):
    user = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
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
        choices=resource_type_choices,
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
        model = audited_model(kind) if kind else None
        if resource_id and model is not None:
            try:
                data["resource_id"] = model.audit_clean_id(resource_id)
            except ValidationError as error:
                self.add_error("resource_id", error)
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
