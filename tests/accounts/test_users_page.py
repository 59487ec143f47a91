"""The users pages and every rule they enforce on the server side."""

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.models import User
from auditing.models import AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Corr3ct-Horse-Battery"


def edit_data(person, **overrides):
    data = {
        "email": person.email,
        "role": person.role,
        "is_active": "on" if person.is_active else "",
        "timezone": person.timezone,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v != ""}


def create_data(**overrides):
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "role": "user",
        "timezone": "Europe/Berlin",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    data.update(overrides)
    return data


def test_list_shows_role_active_and_last_login(as_admin, user, django_assert_max_num_queries):
    UserFactory.create_batch(5)
    with django_assert_max_num_queries(6):
        as_admin.get("/users/")
    UserFactory.create_batch(40)
    with django_assert_max_num_queries(6):
        response = as_admin.get("/users/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "ursula" in body and "User" in body and "never" in body
    assert body.count("<tr>") == User.objects.count() + 1  # all 48 fit on one page


def test_user_cannot_open_or_post_the_users_pages(as_user, admin):
    for url in [
        "/users/",
        "/users/new/",
        f"/users/{admin.pk}/edit/",
        f"/users/{admin.pk}/password/",
    ]:
        assert as_user.get(url).status_code == 403
        assert as_user.post(url, create_data()).status_code == 403
    assert not User.objects.filter(username="newbie").exists()


def test_admin_creates_a_user_with_a_validated_password(as_admin, admin):
    response = as_admin.post("/users/new/", create_data())
    assert response.status_code == 302
    person = User.objects.get(username="newbie")
    assert person.role == "user" and person.timezone == "Europe/Berlin"
    assert person.check_password(NEW_PASSWORD)
    row = AuditLog.objects.get(action="CREATE", resource_type="user", resource_id=str(person.pk))
    assert row.user == admin and "password" not in row.details["fields"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"new_password1": "short", "new_password2": "short"}, "too short"),
        ({"new_password1": "12345678901", "new_password2": "12345678901"}, "entirely numeric"),
        ({"new_password1": "password123", "new_password2": "password123"}, "too common"),
        ({"new_password2": "Different-Pass-99"}, "differ"),
        ({"username": ""}, "required"),
        ({"username": "ursula"}, "already exists"),
        ({"email": "not-an-email"}, "valid email"),
        ({"timezone": "Mars/Olympus"}, "valid choice"),
        ({"role": "god"}, "valid choice"),
        ({"username": "x" * 200}, "at most 150"),
        ({"username": "bad name!"}, "valid username"),
    ],
)
def test_bad_create_input_is_a_form_error_and_nothing_is_written(
    as_admin, user, overrides, message
):
    before = User.objects.count()
    response = as_admin.post("/users/new/", create_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_admin_cannot_create_a_super_admin(as_admin):
    response = as_admin.post("/users/new/", create_data(role="super_admin"))
    assert response.status_code == 200 and "valid choice" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()
    assert b'value="super_admin"' not in as_admin.get("/users/new/").content


def test_super_admin_can_create_a_super_admin(as_super_admin):
    assert as_super_admin.post("/users/new/", create_data(role="super_admin")).status_code == 302
    assert User.objects.get(username="newbie").is_superuser


def test_admin_edits_a_user(as_admin, user):
    response = as_admin.post(
        f"/users/{user.pk}/edit/",
        edit_data(user, email="u2@example.com", role="admin", timezone="Asia/Tokyo"),
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.email, user.role, user.timezone) == ("u2@example.com", "admin", "Asia/Tokyo")


def test_admin_cannot_promote_to_super_admin(as_admin, user):
    response = as_admin.post(f"/users/{user.pk}/edit/", edit_data(user, role="super_admin"))
    assert response.status_code == 200 and "valid choice" in response.content.decode()
    user.refresh_from_db()
    assert user.role == "user"


def test_admin_cannot_edit_a_super_admin_at_all(as_admin, super_admin):
    assert as_admin.get(f"/users/{super_admin.pk}/edit/").status_code == 403
    response = as_admin.post(f"/users/{super_admin.pk}/edit/", edit_data(super_admin, role="user"))
    assert response.status_code == 403
    assert as_admin.get(f"/users/{super_admin.pk}/password/").status_code == 403
    response = as_admin.post(
        f"/users/{super_admin.pk}/password/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 403
    super_admin.refresh_from_db()
    assert super_admin.role == "super_admin" and not super_admin.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("change", [{"role": "user"}, {"is_active": ""}])
def test_nobody_edits_their_own_role_or_deactivates_themselves(as_admin, admin, change):
    response = as_admin.post(f"/users/{admin.pk}/edit/", edit_data(admin, **change))
    # The fields are disabled on one's own account: the submitted value is ignored.
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.is_active


def test_the_service_refuses_an_own_role_change_even_without_the_form(admin):
    from django.core.exceptions import ValidationError

    from accounts.services import user_update

    with pytest.raises(ValidationError, match="your own role"):
        user_update(
            actor=admin,
            target=admin,
            email=admin.email,
            role="user",
            is_active=True,
            timezone_name="UTC",
        )


@pytest.mark.parametrize("change", [{"role": "admin"}, {"is_active": False}])
def test_last_active_super_admin_cannot_be_demoted_or_deactivated(super_admin, change):
    """Two super admins act at once: the first demotes the other; the second one's request,
    already past the page's access check, must not leave the app without a super admin."""
    from django.core.exceptions import ValidationError

    from accounts.services import user_update

    other = UserFactory(role="super_admin")
    stale_other = User.objects.get(pk=other.pk)  # as loaded by its in-flight request
    client = Client()
    client.force_login(super_admin)
    response = client.post(f"/users/{other.pk}/edit/", edit_data(other, is_active=""))
    assert response.status_code == 302
    fields = {"email": super_admin.email, "role": "super_admin", "is_active": True, **change}
    with pytest.raises(ValidationError, match="last active super admin"):
        user_update(actor=stale_other, target=super_admin, timezone_name="UTC", **fields)
    super_admin.refresh_from_db()
    assert super_admin.role == "super_admin" and super_admin.is_active


def test_an_inactive_super_admin_does_not_count_as_a_remaining_one(super_admin):
    from django.core.exceptions import ValidationError

    from accounts.services import user_update

    UserFactory(role="super_admin", is_active=False)
    actor = UserFactory(role="super_admin")
    User.objects.filter(pk=actor.pk).update(role="admin")  # demoted meanwhile, request in flight
    actor.role = "super_admin"
    with pytest.raises(ValidationError, match="last active super admin"):
        user_update(
            actor=actor,
            target=super_admin,
            email=super_admin.email,
            role="admin",
            is_active=True,
            timezone_name="UTC",
        )


def test_deactivating_a_user_ends_their_sessions(as_admin, user):
    victim = Client()
    victim.force_login(user)
    other = Client()
    other.force_login(user)
    bystander = Client()
    bystander.force_login(UserFactory())
    assert victim.get("/").status_code == 200
    response = as_admin.post(f"/users/{user.pk}/edit/", edit_data(user, is_active=""))
    assert response.status_code == 302
    assert victim.get("/").status_code == 302 and other.get("/").status_code == 302
    assert bystander.get("/").status_code == 200
    keys = [s.get_decoded().get("_auth_user_id") for s in Session.objects.all()]
    assert str(user.pk) not in keys
    row = AuditLog.objects.get(action="UPDATE", resource_type="user", resource_id=str(user.pk))
    assert row.details["changes"] == {"is_active": [True, False]}


def test_set_password_uses_djangos_validators_and_is_audited(as_admin, admin, user):
    url = f"/users/{user.pk}/password/"
    response = as_admin.post(url, {"new_password1": "ursula", "new_password2": "ursula"})
    assert response.status_code == 200
    assert "too similar to the username" in response.content.decode()
    AuditLog.objects.all().delete()
    response = as_admin.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    row = AuditLog.objects.get(action="PASSWORD_CHANGE")
    assert row.user == admin and row.resource_id == str(user.pk)
    assert not AuditLog.objects.filter(action="UPDATE").exists()


def test_missing_user_is_404(as_admin):
    assert as_admin.get("/users/999999/edit/").status_code == 404
    assert as_admin.get("/users/999999/password/").status_code == 404


def test_posts_without_csrf_token_are_refused(admin, user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(f"/users/{user.pk}/edit/", edit_data(user, role="admin"))
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.role == "user"


@pytest.mark.parametrize("page", ["abc", "-1", "99999", "1.5", ""])
def test_bad_page_numbers_show_a_page_never_a_500(as_admin, page):
    assert as_admin.get(f"/users/?page={page}").status_code == 200
