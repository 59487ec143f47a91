"""Login throttling: 5 failures for a username from one address in 15 minutes lock that pair
out for 15 minutes, with a clear message and a LOGIN_BLOCKED audit row."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.throttle import login_blocked_until
from auditing.models import AuditLog

pytestmark = pytest.mark.django_db

PASSWORD = "pass-w0rd-42"
BLOCKED = "Too many failed login attempts"


def attempt(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def fail_times(client, username, times):
    for _ in range(times):
        response = attempt(client, username, "wrong")
        assert BLOCKED not in response.content.decode()


def test_five_failures_block_even_the_right_password(user):
    client = Client(REMOTE_ADDR="203.0.113.1")
    fail_times(client, "ursula", 5)
    response = attempt(client, "ursula", PASSWORD)
    body = response.content.decode()
    assert response.status_code == 200 and BLOCKED in body and "15 minute" in body
    assert "_auth_user_id" not in client.session
    row = AuditLog.objects.get(action="LOGIN_BLOCKED")
    assert row.ip_address == "203.0.113.1" and row.details["username"] == "ursula"
    assert AuditLog.objects.filter(action="LOGIN_FAILED").count() == 5


def test_four_failures_still_allow_the_right_password(user):
    client = Client(REMOTE_ADDR="203.0.113.2")
    fail_times(client, "ursula", 4)
    assert attempt(client, "ursula", PASSWORD).status_code == 302


def test_the_block_is_per_address_and_per_username(user):
    attacker = Client(REMOTE_ADDR="203.0.113.3")
    fail_times(attacker, "ursula", 5)
    assert attempt(Client(REMOTE_ADDR="203.0.113.4"), "ursula", PASSWORD).status_code == 302
    assert BLOCKED not in attempt(attacker, "someone-else", "x").content.decode()


def test_the_username_is_counted_case_insensitively(user):
    client = Client(REMOTE_ADDR="203.0.113.5")
    for name in ["ursula", "URSULA", "Ursula", "uRsula", "ursulA"]:
        attempt(client, name, "wrong")
    assert BLOCKED in attempt(client, "ursula", PASSWORD).content.decode()


def test_unknown_usernames_are_throttled_the_same(db):
    client = Client(REMOTE_ADDR="203.0.113.6")
    fail_times(client, "nobody", 5)
    assert BLOCKED in attempt(client, "nobody", "x").content.decode()


def back_date(minutes):
    """Move every login row ``minutes`` into the past, as if time had passed."""
    for row in AuditLog.objects.filter(action__in=["LOGIN_FAILED", "LOGIN_BLOCKED", "LOGIN"]):
        AuditLog.objects.filter(pk=row.pk).update(
            timestamp=row.timestamp - timedelta(minutes=minutes)
        )


def test_the_block_ends_after_fifteen_minutes(user):
    client = Client(REMOTE_ADDR="203.0.113.7")
    fail_times(client, "ursula", 5)
    back_date(14)
    assert BLOCKED in attempt(client, "ursula", PASSWORD).content.decode()
    back_date(2)
    assert attempt(client, "ursula", PASSWORD).status_code == 302


def test_failures_spread_over_more_than_fifteen_minutes_do_not_block(user):
    client = Client(REMOTE_ADDR="203.0.113.8")
    fail_times(client, "ursula", 3)
    back_date(16)
    fail_times(client, "ursula", 2)
    assert attempt(client, "ursula", PASSWORD).status_code == 302


def test_a_successful_login_clears_the_count(user):
    client = Client(REMOTE_ADDR="203.0.113.9")
    fail_times(client, "ursula", 4)
    assert attempt(client, "ursula", PASSWORD).status_code == 302
    client.post("/logout/")
    fail_times(client, "ursula", 4)
    assert attempt(client, "ursula", PASSWORD).status_code == 302


def test_blocked_until_is_fifteen_minutes_after_the_last_failure(user):
    client = Client(REMOTE_ADDR="203.0.113.10")
    fail_times(client, "ursula", 5)
    last = AuditLog.objects.filter(action="LOGIN_FAILED").latest("id").timestamp
    until = login_blocked_until(username="ursula", ip_address="203.0.113.10")
    assert until == last + timedelta(minutes=15)
    assert (
        login_blocked_until(
            username="ursula", ip_address="203.0.113.10", now=until + timedelta(seconds=1)
        )
        is None
    )


def test_limits_come_from_settings(user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR="203.0.113.11")
    fail_times(client, "ursula", 2)
    assert BLOCKED in attempt(client, "ursula", PASSWORD).content.decode()


def test_throttle_lookup_is_a_constant_number_of_queries(django_assert_num_queries):
    for _ in range(50):
        AuditLog.objects.create(
            action="LOGIN_FAILED", resource_type="login", resource_id="x", ip_address="192.0.2.1"
        )
    with django_assert_num_queries(2):
        assert login_blocked_until(username="x", ip_address="192.0.2.1", now=timezone.now())


def test_forged_forwarded_addresses_cannot_dodge_the_throttle(user, settings):
    """Behind a proxy the attacker controls everything left of what the proxy appends."""
    settings.TRUSTED_PROXY_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for n in range(5):
        client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 203.0.113.7")
        assert BLOCKED not in attempt(client, "ursula", "wrong").content.decode()
    client = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.99, 203.0.113.7")
    assert BLOCKED in attempt(client, "ursula", PASSWORD).content.decode()
    logins = AuditLog.objects.filter(resource_type="login")
    assert set(logins.values_list("ip_address", flat=True)) == {"203.0.113.7"}
