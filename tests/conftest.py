"""Shared fixtures: personas, isolated file directories, a real sshd on loopback, a worker."""

import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from tests.factories import UserFactory
from tests.sshd import SshServer, sshd_available
from tests.worker import start_qcluster, stop_qcluster


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Fast password hashing and per-test directories for playbooks, keys and known_hosts."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.PLAYBOOKS_DIR = tmp_path / "playbooks"
    settings.PROJECTS_DIR = tmp_path / "projects"
    settings.SSH_KEYS_DIR = tmp_path / "ssh_keys"
    settings.SSH_KEYS_DIR.mkdir()
    settings.SSH_KNOWN_HOSTS = tmp_path / "known_hosts"


# Personas, after Healthchecks' alice/bob/charlie: one per role, plus an anonymous client.
@pytest.fixture
def user(db):
    return UserFactory(username="ursula", role=User.Role.USER)


@pytest.fixture
def admin(db):
    return UserFactory(username="adam", role=User.Role.ADMIN)


@pytest.fixture
def super_admin(db):
    return UserFactory(username="sonia", role=User.Role.SUPER_ADMIN)


@pytest.fixture
def anonymous():
    return Client()


def _client_for(person):
    client = Client()
    client.force_login(person)
    return client


@pytest.fixture
def as_user(user):
    return _client_for(user)


@pytest.fixture
def as_admin(admin):
    return _client_for(admin)


@pytest.fixture
def as_super_admin(super_admin):
    return _client_for(super_admin)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    """One real sshd for the session, logging in as the current user with a test key."""
    if not sshd_available():
        pytest.fail("sshd is not installed: run scripts/system-deps.sh (make test does)")
    root = tmp_path_factory.mktemp("sshd")
    server = SshServer(root=root, key_dir=root / "keys").start()
    yield server
    server.stop()


@pytest.fixture
def sshd(sshd_server, settings):
    """The session sshd, with SSH_KEYS_DIR pointing at the directory holding its client key."""
    settings.SSH_KEYS_DIR = sshd_server.key_dir
    return sshd_server


TARGET_USER = "infra-target"


@pytest.fixture(scope="session")
def target_sshd_server(tmp_path_factory):
    """A real sshd that logs in as ``infra-target``, an OS account other than the worker's:
    the owner of a file a task wrote tells whether the target or the controller ran it."""
    try:
        pwd.getpwnam(TARGET_USER)
    except KeyError:
        pytest.fail(f"OS user {TARGET_USER} is missing: run scripts/system-deps.sh --test")
    root = Path(tempfile.mkdtemp(prefix="sshd-target-"))  # outside the 0700 pytest tree
    server = SshServer(
        root=root, key_dir=tmp_path_factory.mktemp("target-keys"), user=TARGET_USER
    ).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def target_sshd(target_sshd_server, settings):
    settings.SSH_KEYS_DIR = target_sshd_server.key_dir
    return target_sshd_server


@pytest.fixture
def qcluster(transactional_db, settings):
    """A real `manage.py qcluster` worker on the test database (file SQLite or MariaDB)."""
    process = start_qcluster(Path(settings.PLAYBOOKS_DIR).parent / "qcluster.log")
    yield process
    stop_qcluster(process)
