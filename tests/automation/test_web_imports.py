"""The web process never loads the worker: pages read the console through the selectors and
automation/console.py, and only automation.tasks imports the runner (and so ansible-runner)."""

import os
import subprocess
import sys

from django.conf import settings

WEB_MODULES = ["automation.urls", "automation.views.jobs", "automation.views.playbooks"]
PROBE = """
import sys
import django
django.setup()
import infra_automation.urls
{imports}
loaded = sorted(name for name in sys.modules if name.split(".")[0] == "ansible_runner"
                or name in ("automation.runner.execute", "automation.runner.callback",
                            "automation.runner.prepare", "automation.tasks"))
assert not loaded, loaded
"""


def test_importing_the_pages_does_not_load_ansible_runner_or_the_worker():
    imports = "\n".join(f"import {module}" for module in WEB_MODULES)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(imports=imports)],
        cwd=settings.BASE_DIR,
        env={"DJANGO_SETTINGS_MODULE": "infra_automation.settings", **os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
