"""The settings page: time zone (applied to every date) and changing one's own password."""

import pytest
from django.test import Client

from auditing.models import AuditLog
from tests.factories import AuditLogFactory, JobFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-w0rd-42"
NEW_PASSWORD = "Corr3ct-Horse-Battery"


def test_settings_page_lists_iana_time_zones(as_user):
    body = as_user.get("/settings/").content.decode()
    assert 'value="Asia/Kolkata"' in body and 'value="America/Argentina/Buenos_Aires"' in body


def test_changing_the_time_zone_applies_it_to_dates_on_every_page(db):
    person = UserFactory(role="admin", timezone="UTC")
    client = Client()
    client.force_login(person)
    JobFactory(user=person)
    AuditLogFactory(user=person)
    assert client.post("/settings/", {"timezone": "Asia/Tokyo"}).status_code == 302
    person.refresh_from_db()
    assert person.timezone == "Asia/Tokyo"
    for url in ["/", "/audit/", "/users/", "/settings/"]:
        assert "JST" in client.get(url).content.decode(), url
    row = AuditLog.objects.get(action="UPDATE", resource_type="user")
    assert row.details["changes"] == {"timezone": ["UTC", "Asia/Tokyo"]}


@pytest.mark.parametrize("value", ["Mars/Olympus", "", "../../etc/passwd", "UTC\x00", "x" * 500])
def test_unknown_time_zone_is_a_form_error(as_user, user, value):
    response = as_user.post("/settings/", {"timezone": value})
    assert response.status_code == 200 and "errors" in response.content.decode()
    user.refresh_from_db()
    assert user.timezone == "UTC"


def test_change_password_keeps_the_session_and_is_audited(as_user, user):
    AuditLog.objects.all().delete()
    response = as_user.post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert as_user.get("/settings/").status_code == 200  # still logged in
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    row = AuditLog.objects.get(action="PASSWORD_CHANGE")
    assert row.user == user and row.resource_id == str(user.pk)
    assert user.password not in str(row.details)


def test_changing_the_password_ends_the_users_other_sessions(as_user, user):
    elsewhere = Client()
    elsewhere.force_login(user)
    as_user.post(
        "/settings/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert elsewhere.get("/").status_code == 302


@pytest.mark.parametrize(
    "data, message",
    [
        ({"old_password": "wrong"}, "current password is not correct"),
        ({"new_password1": "abc", "new_password2": "abc"}, "too short"),
        ({"new_password1": "ursula-x", "new_password2": "ursula-x"}, "too similar"),
        ({"new_password2": "Other-Pass-777"}, "differ"),
        ({"old_password": ""}, "required"),
    ],
)
def test_bad_password_change_is_a_form_error(as_user, user, data, message):
    payload = {
        "old_password": PASSWORD,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    payload.update(data)
    AuditLog.objects.all().delete()
    response = as_user.post("/settings/password/", payload)
    assert response.status_code == 200 and message in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action="PASSWORD_CHANGE").exists()
