"""Query strings with numbers or dates past what Python or the database can hold: every list
page with a keyset cursor or a date filter answers with a message, never a 500."""

import pytest

from core.forms import epoch_micros
from tests.factories import JobFactory, JobLogFactory, PlaybookFactory

pytestmark = pytest.mark.django_db

HUGE = "9" * 25
TOO_MANY_DIGITS = "9" * 5000  # past int()'s default 4,300-digit limit


@pytest.mark.parametrize(
    "query",
    [
        "?before=9999999999999999999_1",  # microseconds past the year 9999: OverflowError
        f"?before=1_{HUGE}",
        f"?before={TOO_MANY_DIGITS}_1",
        "?before=²_1",  # str.isdigit() says yes, int() says no
    ],
)
def test_jobs_list_cursor_out_of_range_is_a_message(as_user, query):
    JobFactory()
    response = as_user.get("/jobs/" + query)
    assert response.status_code == 200
    assert "page cursor" in response.content.decode() or "at most 60" in response.content.decode()
    assert response.context["jobs"] == []


def test_jobs_list_cursor_still_pages(as_user):
    jobs = JobFactory.create_batch(3)
    first = as_user.get("/jobs/").context
    assert len(first["jobs"]) == 3 and not first["next_cursor"]
    newest = jobs[-1]
    cursor = f"{epoch_micros(newest.created_at)}_{newest.pk}"
    older = as_user.get(f"/jobs/?before={cursor}").context["jobs"]
    assert newest not in older and len(older) == 2


@pytest.mark.parametrize("field", ["date_from", "date_to"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("tz", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_extreme_dates_are_a_message_on_every_filtered_page(as_admin, admin, field, day, tz):
    """A day's end is midnight of the next day, and a far time zone shifts it again: both
    overflowed at the edges of Python's dates."""
    admin.timezone = tz
    admin.save()
    JobFactory()
    PlaybookFactory()
    query = f"?{field}={day}"
    for url in ("/jobs/", "/playbooks/history/"):
        response = as_admin.get(url + query)
        assert response.status_code == 200, url
        assert "Pick a day between" in response.content.decode(), url
    response = as_admin.get("/audit/" + query)
    assert response.status_code == 400 and "Pick a day between" in response.content.decode()
    export = as_admin.get("/audit/export.csv" + query)
    assert export.status_code == 400 and "Pick a day between" in export.content.decode()


def test_the_last_allowed_day_filters(as_admin):
    JobFactory()
    response = as_admin.get("/jobs/?date_to=9998-12-31")
    assert response.status_code == 200 and len(response.context["jobs"]) == 1
    assert as_admin.get("/audit/export.csv?date_to=9998-12-31").status_code == 200


@pytest.mark.parametrize("cursor", ["before", "after"])
@pytest.mark.parametrize("value", [HUGE, TOO_MANY_DIGITS, "²"])
def test_audit_cursor_out_of_range_is_a_400_message(as_admin, cursor, value):
    response = as_admin.get(f"/audit/?{cursor}={value}")
    assert response.status_code == 400 and "Page cursor" in response.content.decode()
    assert as_admin.get(f"/audit/export.csv?{cursor}={value}").status_code == 400


def test_history_playbook_id_out_of_range_is_a_message(as_admin):
    response = as_admin.get(f"/playbooks/history/?playbook={HUGE}")
    assert response.status_code == 200 and "less than or equal to" in response.content.decode()


@pytest.mark.parametrize("value", [HUGE, TOO_MANY_DIGITS, "²", "١٢"])
def test_console_cursors_out_of_range_never_fail(as_user, value):
    job = JobFactory(status="success")
    JobLogFactory(job=job, line_number=1, content="hello")
    for query in (f"log/?after={value}", f"log/?before={value}", f"?from={value}"):
        response = as_user.get(f"/jobs/{job.job_id}/{query}")
        assert response.status_code in (200, 286), query
