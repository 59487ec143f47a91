import os

import pytest
from django.core.exceptions import ValidationError

from inventory.keys import resolve_key_path


@pytest.fixture
def key(settings):
    path = settings.SSH_KEYS_DIR / "id_web"
    path.write_text("PRIVATE KEY")
    return path


def test_a_key_inside_the_directory_resolves(key):
    assert resolve_key_path("id_web") == key.resolve()
    assert resolve_key_path(str(key)) == key.resolve()


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "Choose a key file"),
        ("../id_web", "inside"),
        ("/etc/passwd", "inside"),
        ("/etc/ssh/ssh_host_ed25519_key", "inside"),
        ("missing", "No key file"),
        ("a\x00b", "NUL"),
        ("k" * 300, "too long"),
        ("é" * 128, "too long"),  # 256 bytes in UTF-8
    ],
)
def test_bad_key_paths_are_refused_with_a_message(key, value, message):
    with pytest.raises(ValidationError, match=message):
        resolve_key_path(value)


def test_a_symlink_escaping_the_directory_is_refused(settings):
    os.symlink("/etc/passwd", settings.SSH_KEYS_DIR / "sneaky")
    with pytest.raises(ValidationError, match="inside"):
        resolve_key_path("sneaky")


def test_a_directory_is_not_a_key(settings):
    (settings.SSH_KEYS_DIR / "sub").mkdir()
    with pytest.raises(ValidationError, match="regular file"):
        resolve_key_path("sub")


def test_a_symlink_loop_is_a_message_not_an_oserror(settings):
    os.symlink("loop", settings.SSH_KEYS_DIR / "loop")
    with pytest.raises(ValidationError):
        resolve_key_path("loop")
