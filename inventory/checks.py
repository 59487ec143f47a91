"""System checks for the credential store: production needs its own CREDENTIALS_KEY."""

from django.conf import settings
from django.core.checks import Error, register

from inventory import crypto


@register()
def credentials_key(app_configs, **kwargs):
    """inventory.E001: CREDENTIALS_KEY missing with DEBUG=False; E002: an entry is not a
    Fernet key. DEBUG without a key uses one derived from SECRET_KEY (inventory/crypto.py),
    silently: `make run` writes a real one into .env."""
    problems = crypto.key_problems()
    if problems and not settings.CREDENTIALS_KEY:
        return [
            Error(
                problems[0],
                hint="Generate one: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())' (docs/operations.md).",
                id="inventory.E001",
            )
        ]
    if problems:
        return [
            Error(p, hint="See .env.example: CREDENTIALS_KEY.", id="inventory.E002")
            for p in problems
        ]
    return []
