"""Backups restore into a fresh database and data directory with everything in them: the
playbooks (every version, files included), jobs, console lines, keys and known hosts."""

import json
import subprocess
import sys
import tarfile
from io import BytesIO, StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from automation.models import JobLog
from automation.services import playbooks as services
from tests.factories import JobFactory, ServerFactory
from tests.worker import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

# Run in the restored installation: what a person would look at after a restore.
SNAPSHOT = """
import json
from django.db import connection
from automation.models import Job, JobLog, Playbook
with connection.cursor() as cursor:
    cursor.execute("SELECT playbook_name, action, new_content FROM playbook_audit_logs ORDER BY id")
    versions = [list(row) for row in cursor.fetchall()]
print(json.dumps({
    "playbooks": sorted([p.name, p.read_content()] for p in Playbook.objects.all()),
    "versions": versions,
    "jobs": sorted([str(j.job_id), j.status, j.playbook.name] for j in Job.objects.all()),
    "lines": [
        [str(line.job.job_id), line.line_number, line.content]
        for line in JobLog.objects.select_related("job").order_by("job__job_id", "line_number")
    ],
}))
"""


def snapshot(env=None):
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SNAPSHOT],
        cwd=ROOT,
        env=env or worker_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def installation(tmp_path):
    """Data worth backing up: two playbooks (one edited), a job with console lines, a key and
    a known host."""
    first = services.playbook_create(
        name="Web tier", description="", content="- hosts: all\n  tasks: []\n", user=None
    )
    services.playbook_create(
        name="Db tier", description="", content="- hosts: db\n  tasks: []\n", user=None
    )
    services.playbook_update(
        playbook=first,
        name="Web tier",
        description="edited",
        content="- hosts: web\n  tasks: []\n",
        base_sha256=services.sha256_text(first.read_content()),
        user=None,
    )
    job = JobFactory(playbook=first, server=ServerFactory(ssh_key_path="id_demo"))
    JobLog.objects.bulk_create(
        JobLog(job=job, line_number=n, content=f"line {n} \x1b[0;32mok\x1b[0m é")
        for n in range(1, 51)
    )
    (Path(settings.SSH_KEYS_DIR) / "id_demo").write_text("PRIVATE KEY DEMO\n")
    settings.SSH_KNOWN_HOSTS.write_text("[127.0.0.1]:2222 ssh-ed25519 AAAAdemo\n")
    return tmp_path


@pytest.fixture
def fresh(tmp_path):
    """Environment for an empty installation: a new database and new file paths."""
    root = tmp_path / "fresh"
    env = {
        **worker_env(),
        "DATA_DIR": str(root),
        "PLAYBOOKS_DIR": str(root / "playbooks"),
        "SSH_KEYS_DIR": str(root / "ssh_keys"),
        "SSH_KNOWN_HOSTS": str(root / "known_hosts"),
    }
    db = connection.settings_dict
    if connection.vendor == "mysql":
        name = f"{db['NAME']}_restore"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        env["DATABASE_URL"] = env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{root / 'restored.sqlite3'}"
    root.mkdir()
    yield env
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{db['NAME']}_restore`")


def restore(archive, env, *extra):
    return subprocess.run(
        [sys.executable, "manage.py", "restore", str(archive), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_a_backup_restores_into_a_fresh_database_and_data_dir(installation, fresh):
    archive = installation / "backup.tar.gz"
    out = StringIO()
    call_command("backup", "--output", str(archive), stdout=out)
    assert "Done. Wrote" in out.getvalue() and archive.stat().st_mode & 0o077 == 0
    before = snapshot()

    done = restore(archive, fresh)
    assert done.returncode == 0, done.stderr
    assert "Done. Restored the backup" in done.stdout

    after = snapshot(fresh)
    assert after == before
    assert len(after["versions"]) == 3 and len(after["lines"]) == 50
    root = Path(fresh["DATA_DIR"])
    assert (root / "ssh_keys" / "id_demo").read_text() == "PRIVATE KEY DEMO\n"
    assert "AAAAdemo" in (root / "known_hosts").read_text()
    # The restored installation is current: nothing left to migrate.
    plan = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"], cwd=ROOT, env=fresh, check=False
    )
    assert plan.returncode == 0


def test_restore_refuses_a_database_that_holds_the_app(installation):
    archive = installation / "backup.tar.gz"
    call_command("backup", "--output", str(archive), stdout=StringIO())
    done = restore(archive, worker_env())
    assert done.returncode != 0 and "not empty" in done.stderr


def test_backup_never_overwrites_an_archive(installation):
    archive = installation / "backup.tar.gz"
    archive.write_text("precious")
    with pytest.raises(CommandError, match="exists already"):
        call_command("backup", "--output", str(archive), stdout=StringIO())
    assert archive.read_text() == "precious"


def test_restore_refuses_what_is_not_a_backup_or_escapes_its_folder(tmp_path, fresh):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    assert "Cannot read" in restore(junk, fresh).stderr

    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        manifest = json.dumps({"format": 1, "engine": connection.vendor, "counts": {}}).encode()
        for name, data in [("manifest.json", manifest), ("../../etc/evil", b"x")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, BytesIO(data))
    done = restore(evil, fresh)
    assert done.returncode != 0 and "Unsafe path" in done.stderr
    assert not (tmp_path.parent.parent / "etc" / "evil").exists()
