"""Encryption of stored credentials and the SSH key checks they need.

Secret fields are kept as one Fernet token (AES-128-CBC + HMAC-SHA256, from ``cryptography``)
of a JSON object, keyed by settings.CREDENTIALS_KEY: several keys, newest first, read through
a MultiFernet, so a token written with an older key still opens until
``manage.py rotate_credentials`` has re-encrypted it with the newest. The key is separate from
SECRET_KEY (which signs sessions and may be shared with other tools) and never stored with the
data it protects.

In DEBUG only, without CREDENTIALS_KEY, a key derived from SECRET_KEY stands in so that a
fresh checkout boots; ``manage.py check`` refuses production without one (inventory.E001).
"""

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ValidationError

MIN_RSA_BITS = 2048


class CredentialsKeyError(Exception):
    """CREDENTIALS_KEY is missing, malformed, or does not open a stored secret; ``str()`` says
    what to do."""


def _dev_key() -> bytes:
    # DEBUG only (settings.CREDENTIALS_KEY_IS_DEV_DEFAULT): derived so that it is stable across
    # restarts of a development checkout. Never used with DEBUG=False.
    digest = hashlib.sha256(
        b"infra_automation dev-only credentials key:" + settings.SECRET_KEY.encode()
    )
    return base64.urlsafe_b64encode(digest.digest())


def configured_keys() -> list[bytes]:
    """The Fernet keys, newest first. Raises CredentialsKeyError when there is none."""
    keys = [k.strip().encode() for k in settings.CREDENTIALS_KEY if k.strip()]
    if not keys:
        if getattr(settings, "CREDENTIALS_KEY_IS_DEV_DEFAULT", False):
            return [_dev_key()]
        raise CredentialsKeyError(
            "CREDENTIALS_KEY is not set: stored credentials cannot be read or written. Set it "
            "in the environment (docs/operations.md: Credentials key)."
        )
    return keys


def key_problems() -> list[str]:
    """What is wrong with CREDENTIALS_KEY (for the system check); empty when it is usable."""
    try:
        keys = configured_keys()
    except CredentialsKeyError as exc:
        return [str(exc)]
    problems = []
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            problems.append(
                f"CREDENTIALS_KEY entry {number} is not a Fernet key (32 url-safe base64 bytes)."
            )
    return problems


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in configured_keys()])
    except ValueError as exc:
        raise CredentialsKeyError(
            "CREDENTIALS_KEY holds a value that is not a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def encrypt(values: dict[str, str]) -> str:
    """A Fernet token of ``values`` (secret fields) with the newest key."""
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    """The secret fields in ``token``; {} for an empty token."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise CredentialsKeyError(
            "a stored credential cannot be decrypted with CREDENTIALS_KEY: the key that "
            "encrypted it is no longer configured (keep old keys after the new one until "
            "`manage.py rotate_credentials` has run)"
        ) from exc


def rotate(token: str) -> str:
    """``token`` re-encrypted with the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsKeyError(
            "a stored credential cannot be decrypted with any configured CREDENTIALS_KEY"
        ) from exc


# --- SSH keys -------------------------------------------------------------------------------


def load_private_key(text: str, passphrase: str = "") -> Any:
    """The private key in ``text`` (OpenSSH or PEM), opened with ``passphrase``. Raises
    ValidationError with a message a person can act on: malformed, encrypted without a
    passphrase, a wrong passphrase, an unsupported or too weak key."""
    data = (text or "").strip().replace("\r\n", "\n").encode() + b"\n"
    if b"PRIVATE KEY-----" not in data:
        raise ValidationError(
            "This is not a private key: paste the whole file, from -----BEGIN ... PRIVATE "
            "KEY----- to its END line (the .pub file is the public half)."
        )
    password = passphrase.encode() if passphrase else None
    loader = (
        serialization.load_ssh_private_key
        if b"BEGIN OPENSSH PRIVATE KEY" in data
        else serialization.load_pem_private_key
    )
    try:
        key = loader(data, password=password)
    except TypeError as exc:
        if password is None:
            raise ValidationError("This private key is encrypted: enter its passphrase.") from exc
        raise ValidationError(
            "This private key is not encrypted: leave the passphrase empty."
        ) from exc
    except ValueError as exc:
        if password is not None and _is_encrypted(loader, data):
            raise ValidationError("Wrong passphrase for this private key.") from exc
        raise ValidationError(
            "The private key cannot be read: the text is damaged or not a key format "
            "OpenSSH understands."
        ) from exc
    except UnsupportedAlgorithm as exc:
        raise ValidationError(f"Unsupported key type: {exc}") from exc
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ValidationError(
            f"This RSA key has {key.key_size} bits: at least {MIN_RSA_BITS} are required. "
            "Generate an ed25519 key instead."
        )
    if isinstance(key, dsa.DSAPrivateKey):
        raise ValidationError("DSA keys are no longer accepted by OpenSSH: use ed25519.")
    if not isinstance(
        key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    ):
        raise ValidationError("Unsupported key type: use ed25519, RSA (2048 bits+) or ECDSA.")
    return key


def _is_encrypted(loader: Any, data: bytes) -> bool:
    """Whether the key in ``data`` needs a passphrase: a wrong one reads as "corrupt data"
    (OpenSSH format) or "bad decrypt" (PEM), which says nothing to a person."""
    try:
        loader(data, password=None)
    except TypeError:
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def public_key_line(key: Any, comment: str = "") -> str:
    """The ``authorized_keys`` line of ``key``'s public half."""
    line = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return f"{line} {comment}".strip()


def fingerprint(key: Any) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it."""
    raw = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .split()[1]
    )
    digest = hashlib.sha256(base64.b64decode(raw)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def unencrypted_openssh(key: Any) -> str:
    """``key`` as an unencrypted OpenSSH private key file: what a run writes (mode 0600) into
    its sandboxed directory, so that no passphrase has to reach ssh."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def generate_ed25519() -> tuple[str, Any]:
    """A new ed25519 key: (its unencrypted OpenSSH text, the key)."""
    key = ed25519.Ed25519PrivateKey.generate()
    return unencrypted_openssh(key), key
