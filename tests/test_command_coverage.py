"""Every management command of the project's apps has a test that runs it.

After NetBox's test_management_command_coverage: a command nobody calls in a test is a command
nobody knows still works. "Calls" means ``call_command("<name>"`` or ``"manage.py", "<name>"``
somewhere under tests/.
"""

import re
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import get_commands

TESTS_DIR = Path(__file__).resolve().parent


def project_commands():
    """{command: app label} for commands defined by apps living in this repository."""
    base = Path(settings.BASE_DIR).resolve()
    commands = {}
    for name, app_name in get_commands().items():
        if app_name == "django.core":
            continue
        app = next(a for a in apps.get_app_configs() if a.name == app_name)
        path = Path(app.path).resolve()
        # The virtualenv may live inside the repository (make creates .venv here): its
        # packages are not ours.
        if base in path.parents and "site-packages" not in path.parts:
            commands[name] = app.label
    return commands


def commands_called_in_tests():
    pattern = re.compile(r"""(?:call_command\(\s*|["']manage\.py["'],\s*)["']([\w-]+)["']""")
    found = set()
    for path in TESTS_DIR.rglob("*.py"):
        found |= set(pattern.findall(path.read_text()))
    return found


def test_project_commands_are_found():
    commands = project_commands()
    assert {"seed_demo", "purge_job_logs", "purge_audit_logs", "db_report"} <= set(commands)
    assert "migrate" not in commands and "qcluster" not in commands


def test_every_management_command_has_a_test():
    untested = sorted(
        f"{name} ({app})"
        for name, app in project_commands().items()
        if name not in commands_called_in_tests()
    )
    assert not untested, f"management commands with no test calling them: {untested}"
