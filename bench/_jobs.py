"""Helpers shared by the job benchmarks: a scratch Django, a real qcluster, bare runs."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def database_url():
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}"
    return f"mysql://{db['USER']}:{db['PASSWORD']}@{host}/{db['NAME']}"


def worker_env():
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "Q_WORKERS": "1",
        "PLAYBOOKS_DIR": str(settings.PLAYBOOKS_DIR),
        "SSH_KEYS_DIR": str(settings.SSH_KEYS_DIR),
        "SSH_KNOWN_HOSTS": str(settings.SSH_KNOWN_HOSTS),
    }


class QCluster:
    """A real `manage.py qcluster` for the benchmark's database."""

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=worker_env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(3)  # let the cluster start its worker before timing anything
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
        self.log.close()


def bare_run(content, runs=3):
    """Median wall time of plain `ansible-playbook` on localhost with the local connection."""
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "playbook.yml"
        playbook.write_text(content)
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "ANSIBLE_HOME": tmp,
            "ANSIBLE_LOCAL_TEMP": tmp,
            "ANSIBLE_FORCE_COLOR": "1",
        }
        for _ in range(runs):
            started = time.monotonic()
            subprocess.run(
                [
                    str(BIN / "ansible-playbook"),
                    "-i",
                    "localhost,",
                    "-c",
                    "local",
                    "-e",
                    f"ansible_python_interpreter={sys.executable}",
                    str(playbook),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                check=True,
            )
            times.append(time.monotonic() - started)
    return statistics.median(times)


def demo_objects():
    from accounts.models import User
    from inventory.models import Server

    user, _ = User.objects.get_or_create(
        username="bench", defaults={"email": "bench@example.com", "role": User.Role.SUPER_ADMIN}
    )
    server, _ = Server.objects.get_or_create(
        hostname="localhost",
        defaults={"ip_address": "127.0.0.1", "connection": Server.Connection.LOCAL},
    )
    return user, server
