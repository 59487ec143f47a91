"""Run one job with ansible-runner: private data dir, console lines, cancel, timeout, result.

Memory stays flat whatever the output size: lines are written to job_logs in batches (by count
and by time) and nothing else is kept per event. The data dir is fresh for every job and removed
after it: ansible-runner reads back env/ files from earlier runs (FIELD-NOTES), which would leak
settings and keys between jobs.
"""

import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from auditing.models import AuditLog
from auditing.services import audit_record
from automation import storage
from automation.models import Job, JobLog
from infra_automation.db import insert_sql
from inventory.keys import resolve_key_path

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
BATCH_LINES = 500
BATCH_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 1.0
ERROR_PREFIXES = ("fatal:", "failed:", "error!", "[error]", "error:")
WARNING_PREFIXES = ("[warning]", "[deprecation warning]", "warning:", "[deprecation")
FAILED_EVENTS = ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable")
STAT_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


def strip_ansi(text):
    return ANSI.sub("", text)


def classify(line, event=""):
    """Log level of one console line (ANSI codes ignored)."""
    plain = strip_ansi(line).strip().lower()
    if plain.startswith(ERROR_PREFIXES) or "unreachable!" in plain or plain.startswith("[error"):
        return JobLog.Level.ERROR
    if event in FAILED_EVENTS and plain:
        return JobLog.Level.ERROR
    if plain.startswith(WARNING_PREFIXES):
        return JobLog.Level.WARNING
    if event == "verbose":
        return JobLog.Level.DEBUG
    return JobLog.Level.INFO


class LogWriter:
    """Numbers console lines and inserts them in batches, flushing by size (also inside one huge
    event, so memory stays flat) and by age (so a quiet job still shows its lines at once).

    Rows go in as plain tuples through executemany (one multi-row INSERT per batch on MySQL):
    this is the hot path of every job, and model instances would cost more than the insert.
    """

    def __init__(self, job):
        self.job = job
        self.buffer = []
        self.line_number = JobLog.objects.filter(job=job).count()
        self.first_error_line = None
        self.last_flush = time.monotonic()
        self.stored = 0
        self.sql = insert_sql(JobLog, ("job", "line_number", "content", "log_level", "timestamp"))

    def write(self, text, event=""):
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            self.line_number += 1
            level = classify(line, event)
            if level == JobLog.Level.ERROR and self.first_error_line is None:
                self.first_error_line = self.line_number
            self.buffer.append((self.line_number, line, level))
            if len(self.buffer) >= BATCH_LINES:
                self.flush()

    def flush_if_due(self):
        if self.buffer and time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush()

    def flush(self):
        if self.buffer:
            stamp = connection.ops.adapt_datetimefield_value(timezone.now())
            rows = [
                (self.job.pk, number, line, level, stamp) for number, line, level in self.buffer
            ]
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)
            self.stored += len(rows)
            if self.first_error_line is not None and self.job.first_error_line is None:
                Job.objects.filter(pk=self.job.pk).update(first_error_line=self.first_error_line)
                self.job.first_error_line = self.first_error_line
            self.buffer = []
        self.last_flush = time.monotonic()


@dataclass
class RunState:
    """What the handlers learn while the playbook runs."""

    playbook_pid: int | None = None
    first_failure: str = ""
    cancel_seen_at: float | None = None
    stats: dict = field(default_factory=dict)


def build_inventory(server):
    """Inventory for the one server (JSON is valid YAML for Ansible's yaml plugin)."""
    if server.is_local:
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    else:
        key = resolve_key_path(server.ssh_key_path)
        host_vars = {
            "ansible_host": server.ip_address,
            "ansible_port": server.ssh_port,
            "ansible_user": server.ssh_user,
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={settings.SSH_KNOWN_HOSTS} "
                "-o StrictHostKeyChecking=accept-new -o HashKnownHosts=no -o ConnectTimeout=10"
            ),
            "ansible_python_interpreter": "auto_silent",
        }
    return {"all": {"hosts": {server.hostname: host_vars}}}


def prepare(job, root):
    """Write the private data dir: playbook snapshot, inventory, extra vars (as a file)."""
    content = job.playbook.read_content()
    (root / "project").mkdir(parents=True)
    (root / "project" / "playbook.yml").write_text(content, encoding="utf-8")
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yml").write_text(json.dumps(build_inventory(job.server)))
    (root / "env").mkdir()
    # ansible-runner passes this file as -e @env/extravars: values never reach a command line.
    (root / "env" / "extravars").write_text(json.dumps(job.extra_vars or {}))
    (root / "env" / "extravars").chmod(0o600)
    return content


def environment(root):
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_FORCE_COLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_HOME": str(root / "ansible_home"),
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "True",
        "PYTHONUNBUFFERED": "1",
    }


def execute(job):
    """Run ``job`` (already claimed: status running) to its end and record the result."""
    root = Path(tempfile.mkdtemp(prefix=f"job-{job.job_id}-"))
    writer = LogWriter(job)
    state = RunState()
    try:
        try:
            content = prepare(job, root)
        except ValidationError as exc:
            writer.write(f"ERROR! Cannot prepare the run: {' '.join(exc.messages)}")
            writer.flush()
            job.finish(Job.Status.FAILED, error_message=f"Cannot run: {' '.join(exc.messages)}")
            return job
        Job.objects.filter(pk=job.pk).update(playbook_sha256=storage.sha256_text(content))
        runner = ansible_runner.run(
            private_data_dir=str(root),
            playbook="playbook.yml",
            inventory=str(root / "inventory" / "hosts.yml"),
            envvars=environment(root),
            cmdline="--check --diff" if job.check_mode else None,
            event_handler=lambda event: _on_event(event, writer, state),
            cancel_callback=lambda: _should_cancel(job, writer, state),
            settings={
                "pexpect_timeout": 0.5,
                "job_timeout": settings.JOB_TIMEOUT,
                "suppress_ansible_output": True,
            },
            quiet=True,
        )
        writer.flush()
        _record_result(job, runner, state)
    except Exception as exc:  # never leave a job running because of our own failure
        writer.flush()
        job.refresh_from_db()
        if job.status == Job.Status.RUNNING:
            job.finish(Job.Status.FAILED, error_message=f"Internal error while running: {exc}")
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return job


def _on_event(event, writer, state):
    state.playbook_pid = state.playbook_pid or event.get("pid")
    name = event.get("event", "")
    data = event.get("event_data") or {}
    stdout = event.get("stdout")
    if stdout:
        writer.write(stdout, name)
    else:
        writer.flush_if_due()
    if name in FAILED_EVENTS and not data.get("ignore_errors") and not state.first_failure:
        result = data.get("res") or {}
        message = strip_ansi(str(result.get("msg") or result.get("stderr") or "")).strip()
        if name == "runner_on_unreachable":
            state.first_failure = f"Host {data.get('host')} unreachable: {message}"
        else:
            state.first_failure = (
                f"Task '{data.get('task')}' failed on host {data.get('host')}: {message}"
            )
        state.first_failure = state.first_failure[:2000]
    # Returning True makes ansible-runner keep the event on disk; only the stats are needed.
    return name == "playbook_on_stats"


def _should_cancel(job, writer, state):
    """Called by ansible-runner every pexpect_timeout (0.5 s): flush quiet output and look at
    the cancel flag. On cancel, SIGTERM ansible-playbook first so its forked workers (which
    live in their own sessions and survive the runner's SIGKILL) stop too."""
    writer.flush_if_due()
    if state.cancel_seen_at is None:
        if not Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
            return False
        state.cancel_seen_at = time.monotonic()
        if state.playbook_pid:
            try:
                os.kill(state.playbook_pid, signal.SIGTERM)
            except ProcessLookupError:
                return True
            return False
        return True
    return time.monotonic() - state.cancel_seen_at >= CANCEL_GRACE_SECONDS


def host_stats(runner_stats):
    """ansible-runner's stats {ok: {host: n}, ...} as {host: {ok: n, changed: n, ...}}."""
    hosts = {}
    for key, label in STAT_KEYS.items():
        for host, count in (runner_stats or {}).get(key, {}).items():
            hosts.setdefault(host, dict.fromkeys(STAT_KEYS.values(), 0))[label] = count
    return hosts


def _record_result(job, runner, state):
    stats = host_stats(runner.stats)
    job.refresh_from_db(fields=["cancel_requested"])
    rc = runner.rc
    if runner.status == "canceled" or job.cancel_requested:
        status, message = Job.Status.CANCELLED, "Cancelled while running."
    elif runner.status == "timeout":
        status, message = Job.Status.FAILED, f"timed out after {settings.JOB_TIMEOUT} s"
    elif runner.status == "successful" and rc == 0:
        status, message = Job.Status.SUCCESS, ""
    else:
        status = Job.Status.FAILED
        message = (
            state.first_failure
            or _last_error_line(job)
            or (f"ansible-playbook exited with code {rc}")
        )
    job.finish(status, rc=rc, stats=stats, error_message=message)
    job.completed_at = job.completed_at or timezone.now()
    # The worker's audit_context names the user who launched the job.
    audit_record(
        AuditLog.Action.UPDATE,
        job,
        {"status": ["running", status], "rc": rc, "error_message": message},
    )


def _last_error_line(job):
    line = (
        JobLog.objects.filter(job=job, log_level=JobLog.Level.ERROR)
        .order_by("-line_number")
        .values_list("content", flat=True)
        .first()
    )
    return strip_ansi(line).strip()[:2000] if line else ""
