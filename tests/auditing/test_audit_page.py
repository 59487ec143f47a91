"""The audit page: filters, keyset pages, links, CSV, bad query strings and constant queries."""

import csv
import io
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from auditing.models import AuditLog
from auditing.queries import csv_cell
from tests.factories import AuditLogFactory, JobFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db

A = AuditLog.Action


def clear():
    """Drop the rows fixtures wrote (users created, logins) so a test sees only its own."""
    AuditLog.objects.all().delete()


def ids_on(response):
    return [row.id for row in response.context["page"].rows]


def test_users_cannot_see_the_audit_log_or_export_it(as_user, anonymous):
    assert as_user.get("/audit/").status_code == 403
    assert as_user.get("/audit/export.csv").status_code == 403
    assert anonymous.get("/audit/").status_code == 302


def test_admin_sees_rows_newest_first_with_who_and_from_where(as_admin, admin):
    old = AuditLogFactory(user=admin, action=A.LOGIN, ip_address="192.0.2.1")
    new = AuditLogFactory(user=None, action=A.CREATE, details={"fields": {"hostname": "h1"}})
    response = as_admin.get("/audit/")
    assert response.status_code == 200
    assert ids_on(response)[:2] == [new.id, old.id]
    body = response.content.decode()
    assert "192.0.2.1" in body and "system" in body and "hostname" in body


@pytest.mark.parametrize(
    "query, expected",
    [
        ("action=LOGIN", {"login"}),
        ("resource_type=server", {"server1", "server2"}),
        ("resource_type=server&resource_id=2", {"server2"}),
        ("q=needle", {"server2"}),
        ("q=NEEDLE", {"server2"}),
        ("resource_type=job&resource_id={job}", {"job"}),
    ],
)
def test_filters_narrow_the_rows(as_admin, admin, query, expected):
    job_id = uuid.uuid4()
    named = {
        "login": AuditLogFactory(action=A.LOGIN, resource_type="user", resource_id="9"),
        "server1": AuditLogFactory(resource_type="server", resource_id="1"),
        "server2": AuditLogFactory(
            resource_type="server", resource_id="2", details={"changes": {"x": "needle"}}
        ),
        "job": AuditLogFactory(action=A.RUN, resource_type="job", resource_id=str(job_id)),
    }
    response = as_admin.get("/audit/?" + query.format(job=job_id))
    found = {name for name, row in named.items() if row.id in ids_on(response)}
    assert found == expected


def test_user_filter(as_admin, admin, user):
    mine = AuditLogFactory(user=user)
    AuditLogFactory(user=admin)
    assert ids_on(as_admin.get(f"/audit/?user={user.pk}")) == [mine.id]


def test_date_range_is_days_in_the_viewers_timezone(db):
    viewer = UserFactory(role="admin", timezone="Asia/Tokyo")
    client = Client()
    client.force_login(viewer)
    tokyo = ZoneInfo("Asia/Tokyo")
    # 2026-03-02 00:30 in Tokyo is still 2026-03-01 in UTC.
    early = AuditLogFactory(timestamp=datetime(2026, 3, 2, 0, 30, tzinfo=tokyo))
    late = AuditLogFactory(timestamp=datetime(2026, 3, 2, 23, 30, tzinfo=tokyo))
    AuditLogFactory(timestamp=datetime(2026, 3, 3, 0, 30, tzinfo=tokyo))
    AuditLogFactory(timestamp=datetime(2026, 3, 1, 23, 30, tzinfo=tokyo))
    response = client.get("/audit/?date_from=2026-03-02&date_to=2026-03-02")
    assert ids_on(response) == [late.id, early.id]
    assert "2026-03-02 00:30:00 JST" in response.content.decode()


@pytest.mark.parametrize(
    "query, message",
    [
        ("user=abc", "No such user"),
        ("user=999999", "No such user"),
        ("action=HACK", "Unknown action"),
        ("resource_type=table", "Unknown resource type"),
        ("resource_type=server&resource_id=1;DROP", "whole number"),
        ("resource_type=job&resource_id=not-a-uuid", "UUID"),
        ("date_from=2026-13-45", "valid date"),
        ("date_from=2026-03-05&date_to=2026-03-01", "before the start date"),
        ("before=-5", "greater than or equal to 1"),
        ("before=abc", "whole number"),
        ("before=5&after=9", "not both"),
        ("q=" + "x" * 500, "at most 200"),
        ("resource_id=" + "9" * 100, "at most 64"),
    ],
)
def test_bad_query_strings_are_a_clear_message_never_a_500(as_admin, query, message):
    response = as_admin.get("/audit/?" + query)
    assert response.status_code == 400
    assert message in response.content.decode()
    export = as_admin.get("/audit/export.csv?" + query)
    assert export.status_code == 400 and message in export.content.decode()


def test_bad_filters_name_the_filter_in_words(as_admin):
    body = as_admin.get("/audit/?resource_type=server&resource_id=x&before=0").content.decode()
    assert "Resource id: A server id is a whole number." in body
    assert "Page cursor: " in body


def test_htmx_gets_the_filter_errors_in_a_swappable_answer(as_admin):
    response = as_admin.get("/audit/?action=HACK", HTTP_HX_REQUEST="true")
    assert response.status_code == 200  # htmx does not swap 4xx answers
    assert "Action: Unknown action HACK." in response.content.decode()


def test_keyset_pages_walk_older_and_back_newer_without_counting(as_admin, admin):
    clear()
    rows = AuditLogFactory.create_batch(120, user=admin)
    newest_first = [row.id for row in reversed(rows)]
    first = as_admin.get("/audit/")
    assert ids_on(first) == newest_first[:50]
    assert first.context["page"].newer is None
    second = as_admin.get(f"/audit/?before={first.context['page'].older}")
    assert ids_on(second) == newest_first[50:100]
    third = as_admin.get(f"/audit/?before={second.context['page'].older}")
    assert ids_on(third) == newest_first[100:] and third.context["page"].older is None
    back = as_admin.get(f"/audit/?after={third.context['page'].newer}")
    assert ids_on(back) == newest_first[50:100]
    top = as_admin.get(f"/audit/?after={back.context['page'].newer}")
    assert ids_on(top) == newest_first[:50] and top.context["page"].newer is None


def test_paging_keeps_the_filters(as_admin, admin):
    clear()
    AuditLogFactory.create_batch(60, action=A.LOGIN, user=admin)
    AuditLogFactory.create_batch(5, action=A.DELETE, user=admin)
    first = as_admin.get("/audit/?action=LOGIN")
    assert f"action=LOGIN&amp;before={first.context['page'].older}" in first.content.decode()
    second = as_admin.get(f"/audit/?action=LOGIN&before={first.context['page'].older}")
    assert len(ids_on(second)) == 10


def test_rows_link_to_resources_that_still_exist(as_admin, admin):
    server = ServerFactory()
    job = JobFactory()
    AuditLogFactory(resource_type="server", resource_id=str(server.pk))
    AuditLogFactory(resource_type="server", resource_id="424242")
    AuditLogFactory(resource_type="job", resource_id=str(job.job_id))
    AuditLogFactory(resource_type="user", resource_id=str(admin.pk))
    AuditLogFactory(resource_type="login", resource_id="someone")
    body = as_admin.get("/audit/").content.decode()
    assert f'href="/servers/{server.pk}/"' in body
    assert f'href="/jobs/{job.job_id}/"' in body
    assert f'href="/users/{admin.pk}/edit/"' in body
    assert 'href="/servers/424242/"' not in body and "server 424242" in body


def test_page_queries_stay_constant_with_data(as_admin, admin, django_assert_max_num_queries):
    def fill(n):
        for i in range(n):
            kind = ["server", "job", "user", "playbook"][i % 4]
            AuditLogFactory(user=UserFactory(), resource_type=kind, resource_id=str(i))

    fill(8)
    with django_assert_max_num_queries(9):
        assert as_admin.get("/audit/").status_code == 200
    fill(120)
    with django_assert_max_num_queries(9):
        assert as_admin.get("/audit/?q=a").status_code == 200


def test_htmx_request_gets_only_the_table(as_admin):
    AuditLogFactory()
    response = as_admin.get("/audit/", HTTP_HX_REQUEST="true")
    assert b"<html" not in response.content and b'id="audit-rows"' in response.content
    assert "HX-Request" in response["Vary"]


def read_csv(response):
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_streams_the_filtered_rows_in_the_viewers_timezone(db):
    viewer = UserFactory(role="admin", timezone="Europe/Paris")
    client = Client()
    client.force_login(viewer)
    clear()
    AuditLogFactory(
        action=A.LOGIN, user=viewer, timestamp=datetime(2026, 7, 1, 10, 0, tzinfo=ZoneInfo("UTC"))
    )
    AuditLogFactory(action=A.DELETE, user=viewer)
    response = client.get("/audit/export.csv?action=LOGIN")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = read_csv(response)
    assert table[0][:4] == ["id", "timestamp", "user", "action"]
    assert len(table) == 2 and table[1][3] == "LOGIN"
    assert table[1][1] == "2026-07-01 12:00:00 CEST"


def test_export_walks_past_one_batch(as_admin, monkeypatch):
    monkeypatch.setattr("auditing.queries.EXPORT_BATCH", 7)
    clear()
    rows = AuditLogFactory.create_batch(20, user=None)
    table = read_csv(as_admin.get("/audit/export.csv"))
    assert [int(r[0]) for r in table[1:]] == [row.id for row in reversed(rows)]


def test_export_cells_cannot_become_formulas(as_admin):
    AuditLogFactory(
        user=UserFactory(username="=cmd|' /C calc'!A0"),
        resource_id="+1",
        user_agent="@SUM(1)",
        details={"x": "-2"},
    )
    row = read_csv(as_admin.get("/audit/export.csv"))[1]
    assert row[2] == "'=cmd|' /C calc'!A0" and row[5] == "'+1" and row[7] == "'@SUM(1)"
    assert csv_cell("-2") == "'-2" and csv_cell("\tx") == "'\tx" and csv_cell("ok") == "ok"


def test_no_route_writes_audit_rows(as_super_admin):
    row = AuditLogFactory(details={"a": 1})
    assert as_super_admin.post("/audit/", {"details": "{}"}).status_code == 405
    assert as_super_admin.post("/audit/export.csv").status_code == 405
    admin_url = f"/admin/auditing/auditlog/{row.pk}/"
    assert as_super_admin.post(admin_url + "delete/", {"post": "yes"}).status_code == 403
    assert as_super_admin.post(admin_url + "change/", {"action": "DELETE"}).status_code == 403
    assert as_super_admin.get("/admin/auditing/auditlog/add/").status_code == 403
    row.refresh_from_db()
    assert row.details == {"a": 1}


def test_old_rows_back_dated_do_not_break_paging(as_admin):
    AuditLogFactory(timestamp=datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC")) - timedelta(days=1))
    assert as_admin.get("/audit/?date_to=2020-01-01").status_code == 200
