"""Form pieces shared by the list pages' filters: the date range, bounded integers from the
query string and keyset page cursors."""

from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.utils import timezone

# Days a date filter accepts. Python dates reach year 9999, but a day's end (midnight of the
# next day) or a day in a time zone far from UTC would step past that and raise OverflowError;
# MySQL DATETIME starts at year 1000. Nobody filters audit rows by the year 1 or 9999.
MIN_DAY = date(1000, 1, 1)
MAX_DAY = date(9998, 12, 31)
# The largest id a BIGINT column holds: a cursor beyond it matches nothing useful.
MAX_ID = 2**63 - 1


def ascii_int(raw: str | None, *, maximum: int = MAX_ID) -> int | None:
    """A non-negative integer from a query-string value, or None for anything else.

    ``str.isdigit`` alone lets through '²' (which int() refuses) and 5,000-digit numbers
    (which int() refuses past sys.get_int_max_str_digits), so digits are ASCII and bounded."""
    raw = raw or ""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(maximum)):
        return None
    value = int(raw)
    return value if value <= maximum else None


def epoch_micros(moment: datetime) -> int:
    """An aware datetime as whole microseconds since 1970 (a cursor made only of digits)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(micros: int) -> datetime | None:
    """The datetime of ``epoch_micros`` output; None when it is outside Python's datetimes."""
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
        super().clean()
        cleaned = self.cleaned_data
        for name in ("date_from", "date_to"):
            day = cleaned.get(name)
            if day and not MIN_DAY <= day <= MAX_DAY:
                self.add_error(
                    name, f"Pick a day between {MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}."
                )
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


class TimeCursorField(forms.CharField):
    """A keyset cursor on (a datetime, an id), written ``<microseconds since 1970>_<id>``
    (``core.pagination.encode_cursor``): digits only, safe in any URL. Cleans to
    ``(datetime, id)`` or None; anything else is a message, never a 500 (a number too big for a
    date or an id once raised OverflowError)."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 60)
        super().__init__(**kwargs)

    def clean(self, value):
        raw = super().clean(value)  # a string of at most max_length characters
        if not raw:
            return None
        micros, _, pk = (ascii_int(part) for part in raw.partition("_"))
        moment = from_epoch_micros(micros) if micros is not None else None
        if moment is None or pk is None:
            raise forms.ValidationError(
                "Not a valid page cursor: use the page links to move between pages."
            )
        return moment, pk
