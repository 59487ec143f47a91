"""core's helpers on their own: HTMX answers, query-string numbers and cursors, the date range,
the one INSERT builder, the one duration format and its template filter."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django import forms
from django.db import connection
from django.template import Context, Template
from django.test import RequestFactory

from auditing.models import AuditLog
from core.db import insert_sql
from core.formatting import duration
from core.forms import (
    MAX_ID,
    DateRangeMixin,
    TimeCursorField,
    ascii_int,
    epoch_micros,
    from_epoch_micros,
)
from core.htmx import redirect_after_post, render_partial_or_page
from insights.models import AuditDailyStat


def htmx_request(htmx):
    request = RequestFactory().get("/x/")
    request.htmx = htmx
    return request


def test_after_a_post_htmx_gets_hx_redirect_and_a_plain_request_a_redirect():
    answer = redirect_after_post(htmx_request(True), "/servers/")
    assert answer.status_code == 204 and answer["HX-Redirect"] == "/servers/"
    answer = redirect_after_post(htmx_request(False), "/servers/")
    assert answer.status_code == 302 and answer.url == "/servers/"


def test_htmx_gets_the_partial_and_a_plain_request_the_page(monkeypatch):
    rendered = []
    monkeypatch.setattr("core.htmx.render", lambda request, name, *a, **k: rendered.append(name))
    render_partial_or_page(htmx_request(True), "part.html", "page.html", {})
    render_partial_or_page(htmx_request(False), "part.html", "page.html", {})
    assert rendered == ["part.html", "page.html"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("42", 42), ("0", 0), ("", None), (None, None), ("-1", None), ("²", None), ("4x", None)],
)
def test_ascii_int_takes_plain_ascii_digits_only(raw, expected):
    assert ascii_int(raw) == expected


def test_ascii_int_refuses_numbers_past_the_maximum():
    assert ascii_int(str(MAX_ID)) == MAX_ID
    assert ascii_int(str(MAX_ID + 1)) is None
    assert ascii_int("9" * 5000) is None
    assert ascii_int("11", maximum=10) is None


def test_epoch_micros_round_trips_and_refuses_the_impossible():
    moment = datetime(2025, 3, 10, 12, 30, 1, 123456, tzinfo=UTC)
    assert from_epoch_micros(epoch_micros(moment)) == moment
    assert from_epoch_micros(10**20) is None


class CursorForm(forms.Form):
    before = TimeCursorField()


def test_time_cursor_field_reads_micros_and_id():
    moment = datetime(2025, 3, 10, tzinfo=UTC)
    form = CursorForm({"before": f"{epoch_micros(moment)}_7"})
    assert form.is_valid() and form.cleaned_data["before"] == (moment, 7)
    empty = CursorForm({})
    assert empty.is_valid() and empty.cleaned_data["before"] is None


@pytest.mark.parametrize("raw", ["garbage", "1_x", "-5_3", "9999999999999999999_1", "²_1"])
def test_time_cursor_field_turns_anything_else_into_a_message(raw):
    form = CursorForm({"before": raw})
    assert not form.is_valid() and "page cursor" in str(form.errors)


class DaysForm(DateRangeMixin, forms.Form):
    pass


def test_date_range_refuses_an_end_before_the_start_and_far_years():
    assert not DaysForm({"date_from": "2025-03-05", "date_to": "2025-03-01"}).is_valid()
    assert not DaysForm({"date_from": "0999-12-31"}).is_valid()
    form = DaysForm({"date_from": "2025-03-01", "date_to": "2025-03-01"})
    assert form.is_valid() and form.cleaned_data["date_to"] == date(2025, 3, 1)


def test_insert_sql_quotes_identifiers_and_leaves_values_to_parameters():
    quote = connection.ops.quote_name
    sql = insert_sql(AuditLog, ["action", "resource_type"])
    assert sql == (
        f"INSERT INTO {quote('audit_logs')} ({quote('action')}, {quote('resource_type')}) "  # noqa: S608
        "VALUES (%s, %s)"
    )
    assert insert_sql(AuditLog, ["action"], rows=3).endswith("VALUES (%s), (%s), (%s)")


@pytest.mark.django_db
def test_insert_sql_upsert_adds_to_the_stored_counts():
    columns = ["day", "user_id", "action", "count"]
    sql = insert_sql(AuditDailyStat, columns, conflict=["day", "user_id", "action"])
    day = date(2025, 3, 10)
    with connection.cursor() as cursor:
        cursor.execute(sql, [day, 0, "LOGIN", 2])
        cursor.execute(sql, [day, 0, "LOGIN", 3])
    assert AuditDailyStat.objects.get(day=day, user_id=0, action="LOGIN").count == 5


def test_insert_sql_upsert_keeps_the_greater_or_the_stored_value_when_asked():
    sql = insert_sql(
        AuditDailyStat, ["day", "user_id", "action", "count"], conflict=["day"], maxima=["count"]
    )
    assert "GREATEST(" in sql or "MAX(" in sql
    sql = insert_sql(AuditDailyStat, ["day", "count"], conflict=["day"], keep=["count"])
    assert sql.rstrip().endswith(("UPDATE", "SET")) or "count" not in sql.split("UPDATE", 1)[1]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (4.24, "4.2 s"),
        (timedelta(seconds=12.4), "12 s"),
        (245, "4 min 05 s"),
        (timedelta(hours=2, minutes=3, seconds=59), "2 h 03 min"),
    ],
)
def test_one_duration_format_for_seconds_and_timedeltas(value, text):
    assert duration(value) == text


def test_the_duration_filter_is_in_the_core_library():
    rendered = Template("{% load core %}{{ value|duration }}").render(
        Context({"value": timedelta(seconds=75)})
    )
    assert rendered == "1 min 15 s"
