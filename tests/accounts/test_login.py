import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pass-w0rd-42"


def login(client, username, password, next_url=None):
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post(url, data)


def test_login_page_renders_for_anonymous(anonymous):
    response = anonymous.get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content and b'name="password"' in response.content


def test_good_password_logs_in_and_lands_on_dashboard(anonymous, user):
    response = login(anonymous, user.username, PASSWORD)
    assert response.status_code == 302 and response.url == "/"
    assert anonymous.get("/").status_code == 200


def test_bad_password_is_a_form_error(anonymous, user):
    response = login(anonymous, user.username, "wrong")
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in anonymous.session


def test_inactive_user_cannot_log_in(anonymous):
    UserFactory(username="gone", is_active=False)
    response = login(anonymous, "gone", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in anonymous.session


@pytest.mark.parametrize(
    "username, password",
    [
        ("", ""),
        ("x" * 10_000, "y"),
        ("admin' OR '1'='1", "' OR '1'='1"),
        ("admin'; DROP TABLE users; --", "x"),
        ("\x00nul", "x"),
        ("ursula", "p" * 5000),
    ],
)
def test_bad_input_gives_a_form_error_never_a_500(anonymous, user, username, password):
    response = login(anonymous, username, password)
    assert response.status_code == 200
    assert b"errors" in response.content
    assert User.objects.filter(username="ursula").exists()


def test_safe_next_is_followed(anonymous, user):
    response = login(anonymous, user.username, PASSWORD, next_url="/servers/")
    assert response.url == "/servers/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "http:\\\\evil"])
def test_open_redirect_is_refused(anonymous, user, target):
    response = login(anonymous, user.username, PASSWORD, next_url=target)
    assert response.status_code == 302 and response.url == "/"


def test_logout_is_post_only(as_user):
    assert as_user.get("/logout/").status_code == 405
    response = as_user.post("/logout/")
    assert response.status_code == 302 and response.url == reverse("login")
    assert as_user.get("/").status_code == 302


@pytest.mark.parametrize("url", ["/", "/servers/", "/playbooks/", "/jobs/", "/settings/"])
def test_every_page_requires_login(anonymous, url):
    response = anonymous.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=")


def test_logged_in_user_visiting_login_is_sent_on(as_user):
    assert as_user.get("/login/").status_code == 302


def test_dates_render_in_the_users_timezone(db):
    from django.test import Client

    from tests.factories import JobFactory

    person = UserFactory(timezone="Asia/Tokyo")
    JobFactory(user=person)
    client = Client()
    client.force_login(person)
    assert b"JST" in client.get("/").content
