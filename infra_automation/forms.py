"""Form pieces shared by the list pages' filters."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone


class DateRangeMixin(forms.Form):
    """``date_from``/``date_to`` filters: whole days in the viewer's time zone (the active one),
    both optional, the end day included, and an end before the start refused."""

    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned

    def filter_dates(self, queryset, field):
        """``queryset`` limited to the chosen days on datetime ``field``."""
        tz = timezone.get_current_timezone()
        if day := self.cleaned_data.get("date_from"):
            queryset = queryset.filter(**{f"{field}__gte": datetime.combine(day, time.min, tz)})
        if day := self.cleaned_data.get("date_to"):
            end = datetime.combine(day, time.min, tz) + timedelta(days=1)
            queryset = queryset.filter(**{f"{field}__lt": end})
        return queryset
