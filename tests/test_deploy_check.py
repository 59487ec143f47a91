"""Production settings pass `manage.py check --deploy` with nothing silenced but HSTS preload,
which stays an opt-in (see docs/audit-and-security.md)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent


def deploy_check(tmp_path, **overrides):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            (
                "SECURE_",
                "SESSION_",
                "CSRF_",
                "DEBUG",
                "SECRET_KEY",
                "CREDENTIALS_KEY",
                "DATABASE",
                "DJANGO_ALLOW_ASYNC",
            )
        )
    }
    env.update(
        DEBUG="False",
        SECRET_KEY=secrets.token_urlsafe(64),
        CREDENTIALS_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="automation.example.com",
        DATA_DIR=str(tmp_path),
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(tmp_path):
    result = deploy_check(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, warning",
    [
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"SESSION_COOKIE_SECURE": "False"}, "security.W012"),
        ({"SECURE_HSTS_PRELOAD": "False", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "False"}, "W005"),
    ],
)
def test_each_setting_is_configurable_and_the_check_says_so(tmp_path, overrides, warning):
    result = deploy_check(tmp_path, **overrides)
    assert result.returncode != 0 and warning in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = deploy_check(tmp_path, SECRET_KEY="")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_production_without_a_credentials_key_fails_the_check(tmp_path):
    result = deploy_check(tmp_path, CREDENTIALS_KEY="")
    assert result.returncode != 0
    assert "inventory.E001" in result.stdout + result.stderr


def test_a_credentials_key_that_is_not_a_fernet_key_fails_the_check(tmp_path):
    result = deploy_check(tmp_path, CREDENTIALS_KEY=f"{Fernet.generate_key().decode()},short")
    assert result.returncode != 0
    assert "inventory.E002" in result.stdout + result.stderr


def test_security_headers_are_sent(as_user, settings):
    response = as_user.get("/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_session_expiry_is_configurable(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_AGE, s.SESSION_SAVE_EVERY_REQUEST, "
        "s.SESSION_EXPIRE_AT_BROWSER_CLOSE)"
    )
    env = {
        **os.environ,
        "SESSION_COOKIE_AGE": "900",
        "SESSION_SAVE_EVERY_REQUEST": "True",
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": "True",
        "DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.splitlines()[-1].split() == ["900", "True", "True"], result.stderr


def test_the_session_cookie_lives_as_long_as_configured(user, settings):
    from django.test import Client

    settings.SESSION_COOKIE_AGE = 900
    client = Client()
    client.post("/login/", {"username": user.username, "password": "pass-w0rd-42"})
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 900
