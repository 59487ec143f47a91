"""Shared start-up for the benchmark scripts: Django on the configured database, or on a
throwaway SQLite file when DATABASE_URL is not set, with private data directories."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_setup(prefix="bench"):
    """Configure Django for a standalone benchmark; returns the scratch directory."""
    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra_automation.settings")
    os.environ.setdefault("DATA_DIR", str(scratch))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    for name in ("PLAYBOOKS_DIR", "SSH_KEYS_DIR", "SSH_KNOWN_HOSTS"):
        os.environ[name] = str(scratch / name.lower())
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return scratch
