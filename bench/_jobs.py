"""Helpers shared by the job benchmarks: a scratch Django, a real qcluster, bare runs."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.worker import start_qcluster, stop_qcluster, worker_env  # noqa: F401 - log_ingest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


class QCluster:
    """A real `manage.py qcluster` for the benchmark's database (tests/worker.py starts it)."""

    def __enter__(self):
        self.log_dir = tempfile.TemporaryDirectory()
        self.process = start_qcluster(Path(self.log_dir.name) / "qcluster.log")
        time.sleep(3)  # let the cluster start its worker before timing anything
        return self

    def __exit__(self, *exc):
        stop_qcluster(self.process)
        self.log_dir.cleanup()


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
