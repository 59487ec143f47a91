"""A job through a real qcluster worker while its database is killed (SIGKILL) and restarted:
no mocks. A private MariaDB (tests/mariadb.py) holds the worker's database and broker, so the
shared server stays up for the rest of the suite."""

import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from tests.mariadb import MariaDBServer
from tests.worker import ROOT, start_qcluster, stop_qcluster, wait_for, worker_env

pytestmark = pytest.mark.slow

DATABASE = "ia_faults"
FINISHED = ("success", "failed", "cancelled")
LAUNCH = """
import json, sys, uuid
from accounts.models import User
from automation.services.jobs import job_launch
from automation.services.playbooks import playbook_create
from inventory.models import Server
user, _ = User.objects.get_or_create(
    username="faults", defaults={"email": "faults@example.com", "role": "super_admin"}
)
server, _ = Server.objects.get_or_create(
    hostname="localhost", defaults={"ip_address": "127.0.0.1", "connection": "local"}
)
playbook = playbook_create(
    name=f"faults {uuid.uuid4()}", description="", content=sys.stdin.read(), user=None
)
job = job_launch(playbook=playbook, server=server, user=user)
print(json.dumps({"pk": job.pk, "job_id": str(job.job_id)}))
"""


def counting_playbook(items, pause=0.1):
    """Prints "line 1" ... "line N", one loop item every ``pause`` seconds."""
    return (
        "- name: Count\n  hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Count\n"
        '      ansible.builtin.debug: {msg: "line {{ item }}"}\n'
        f'      loop: "{{{{ range(1, {items + 1}) | list }}}}"\n'
        f"      loop_control: {{pause: {pause}}}\n"
    )


@pytest.fixture(scope="session")
def fault_database():
    server = MariaDBServer().install().start()
    server.query("", f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=worker_env(DATABASE_URL=server.url(DATABASE)),
        check=True,
    )
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def worker_on(fault_database, tmp_path, settings):
    """A real qcluster on the private database, with JOB_DB_RETRY_SECONDS as given."""
    processes = []

    def start(retry_seconds):
        overrides = {
            "DATABASE_URL": fault_database.url(DATABASE),
            "JOB_DB_RETRY_SECONDS": str(retry_seconds),
        }
        processes.append(start_qcluster(tmp_path / "qcluster.log", **overrides))
        return overrides

    yield start
    if fault_database.process.poll() is not None:
        fault_database.start()
    for process in processes:
        stop_qcluster(process)


def launch(server, content, env):
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LAUNCH],
        cwd=ROOT,
        env=worker_env(**env),
        input=content,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def job_row(server, pk):
    rows = server.query(DATABASE, "SELECT status, error_message FROM jobs WHERE id = %s", [pk])
    return rows[0]


def console(server, pk):
    return server.query(
        DATABASE,
        "SELECT line_number, content FROM job_logs WHERE job_id = %s ORDER BY line_number",
        [pk],
    )


def stored_lines(server, pk):
    return server.query(DATABASE, "SELECT COUNT(*) FROM job_logs WHERE job_id = %s", [pk])[0][0]


def counted(lines):
    return [int(n) for n in re.findall(r'"msg": "line (\d+)"', "\n".join(c for _, c in lines))]


def job_processes(job_id):
    """Processes of the job's sandbox: bwrap and ansible-playbook name its directory."""
    found = subprocess.run(["pgrep", "-f", f"job-{job_id}"], capture_output=True, text=True)
    return found.stdout.split()


def finished(server, pk):
    try:
        return job_row(server, pk)[0] in FINISHED
    except Exception:  # the server is restarting
        return False


def worker_log(tmp_path):
    return (tmp_path / "qcluster.log").read_text(errors="replace")


def test_a_database_restart_mid_job_loses_and_duplicates_no_line(
    fault_database, worker_on, tmp_path
):
    env = worker_on(retry_seconds=30)
    job = launch(fault_database, counting_playbook(60), env)
    wait_for(lambda: stored_lines(fault_database, job["pk"]) >= 30, timeout=60)

    fault_database.kill()
    time.sleep(2)
    fault_database.start()

    wait_for(lambda: finished(fault_database, job["pk"]), timeout=90, interval=0.2)
    status, error = job_row(fault_database, job["pk"])
    assert (status, error) == ("success", "")
    lines = console(fault_database, job["pk"])
    assert [number for number, _ in lines] == list(range(1, len(lines) + 1))
    assert counted(lines) == list(range(1, 61))
    assert "PLAY RECAP" in "".join(content for _, content in lines[-4:])
    # The job met the outage (it did not finish before it or start after it).
    assert "Database unavailable during a run" in worker_log(tmp_path)
    assert "Database back after" in worker_log(tmp_path)


def test_a_database_away_past_the_bound_stops_the_playbook_and_fails_the_job(
    fault_database, worker_on, tmp_path
):
    env = worker_on(retry_seconds=3)
    job = launch(fault_database, counting_playbook(600), env)
    wait_for(lambda: stored_lines(fault_database, job["pk"]) >= 30, timeout=60)
    assert job_processes(job["job_id"])

    fault_database.kill()
    killed = time.monotonic()
    wait_for(lambda: not job_processes(job["job_id"]), timeout=30, interval=0.2)
    stopped_after = time.monotonic() - killed
    time.sleep(1)
    fault_database.start()

    wait_for(lambda: finished(fault_database, job["pk"]), timeout=60, interval=0.2)
    status, error = job_row(fault_database, job["pk"])
    assert status == "failed"
    assert re.fullmatch(
        r"database unavailable for \d+ s during the run: the playbook was stopped", error
    )
    assert 3 <= stopped_after < 15
    lines = console(fault_database, job["pk"])
    assert [number for number, _ in lines] == list(range(1, len(lines) + 1))
    numbers = counted(lines)
    assert numbers == list(range(1, len(numbers) + 1)) and 10 < len(numbers) < 600
    assert not job_processes(job["job_id"])
    assert "stopping job" in worker_log(tmp_path)
