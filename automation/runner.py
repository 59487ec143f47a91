"""Run one job with ansible-runner: private data dir, console lines, cancel, timeout, result.

ansible-playbook runs inside the sandbox (automation/sandbox.py): the runner builds the command,
then it is wrapped in bubblewrap and started with a clean environment. The job's directory holds
all the run may see of the app: the playbook, the inventory, the extra vars (every string tagged
``!unsafe``, so values are data, never templates), the one SSH key the server needs and a copy of
known_hosts. It is fresh for every job and removed after it: ansible-runner reads back env/ files
from earlier runs (FIELD-NOTES), which would leak settings and keys between jobs.

Memory stays flat whatever the output size: lines are written to job_logs in batches (by count
and by time) and nothing else is kept per event.
"""

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from ansible_runner.interface import init_runner
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from auditing.models import AuditLog
from auditing.services import audit_record
from automation import sandbox, storage
from automation.logs import console_text
from automation.models import Job, JobLog
from core.db import insert_sql
from inventory.keys import resolve_key_path
from inventory.ssh import host_entry, known_hosts_adopt, known_hosts_locked

BATCH_LINES = 500
BATCH_SECONDS = 0.5
CANCEL_GRACE_SECONDS = 1.0
ERROR_PREFIXES = ("fatal:", "failed:", "error!", "[error]", "error:")
WARNING_PREFIXES = ("[warning]", "[deprecation warning]", "warning:", "[deprecation")
FAILED_EVENTS = ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable")
# What ansible-playbook prints when a vars_prompt or pause would wait for input it cannot get
# (its stdin is /dev/null).
PROMPT_MARKERS = (
    "Not prompting as we are not in interactive mode",
    "Not waiting for response to prompt as stdin is not interactive",
)
PROMPT_MESSAGE = (
    "This playbook asks for input (vars_prompt or pause), which a job cannot answer: the run "
    "was stopped at the prompt. Pass the value as an extra var instead."
)
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
    """``text`` without colours, other terminal escapes or control characters (the line
    breaks stay): what goes into a job's error message and decides a line's level."""
    return "\n".join(console_text(line, colours=False) for line in text.splitlines())


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
    prompt_refused: bool = False
    stats: dict = field(default_factory=dict)


class UnsafeDumper(yaml.SafeDumper):
    """YAML with every string (keys too) tagged ``!unsafe``: Ansible never templates them."""


UnsafeDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("!unsafe", value, style='"')
)


def unsafe_yaml(value):
    """Extra vars as Ansible reads them: data at every depth, never templates."""
    return yaml.dump(value, Dumper=UnsafeDumper, allow_unicode=True, sort_keys=False)


def build_inventory(server, root):
    """Inventory for the one server (JSON is valid YAML for Ansible's yaml plugin). An SSH
    server's key and the known host keys are copied into the job's directory: the sandbox
    shows the run nothing else of the app."""
    if server.is_local:
        host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    else:
        key, known_hosts = _copy_ssh_files(server, root)
        host_vars = {
            "ansible_host": server.ip_address,
            "ansible_port": server.ssh_port,
            "ansible_user": server.ssh_user,
            "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={known_hosts} "
                "-o StrictHostKeyChecking=accept-new -o HashKnownHosts=no -o ConnectTimeout=10"
            ),
            "ansible_python_interpreter": "auto_silent",
        }
    return {"all": {"hosts": {server.hostname: host_vars}}}


def _copy_ssh_files(server, root):
    source = resolve_key_path(server.ssh_key_path)
    ssh_dir = root / "ssh"
    ssh_dir.mkdir(mode=0o700)
    key = ssh_dir / "id_key"
    key.touch(mode=0o600)
    shutil.copyfile(source, key)
    known_hosts = ssh_dir / "known_hosts"
    with known_hosts_locked() as shared:
        if shared.exists():
            shutil.copyfile(shared, known_hosts)
        else:
            known_hosts.touch()
    return key, known_hosts


def prepare(job, root):
    """Write the private data dir: playbook snapshot, inventory, extra vars (as a file)."""
    content = job.playbook.read_content()
    (root / "project").mkdir(parents=True)
    (root / "project" / "playbook.yml").write_text(content, encoding="utf-8")
    (root / "inventory").mkdir()
    (root / "inventory" / "hosts.yml").write_text(json.dumps(build_inventory(job.server, root)))
    (root / "env").mkdir()
    # ansible-runner passes this file as -e @env/extravars: values never reach a command line.
    (root / "env" / "extravars").write_text(unsafe_yaml(job.extra_vars or {}), encoding="utf-8")
    (root / "env" / "extravars").chmod(0o600)
    (root / "home").mkdir()
    return content


def environment(root):
    return {
        "ANSIBLE_FORCE_COLOR": "1",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_HOME": str(root / "ansible_home"),
        "ANSIBLE_LOCAL_TEMP": str(root / "tmp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOWS": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "True",
        "PYTHONUNBUFFERED": "1",
    }


def _confine(runner, root):
    """Put the command the runner built into the sandbox, with a clean environment, and give
    the job's directory to the account it runs as."""
    config = runner.config
    config.command = sandbox.wrap(config.command, workdir=root, cwd=Path(config.cwd))
    config.env = sandbox.environment(config.env, workdir=root)
    # The runner creates these as the worker on start; the event callback inside the sandbox
    # writes into job_events, so they must exist and belong to the run-as account first.
    (Path(config.artifact_dir) / "job_events").mkdir(parents=True, exist_ok=True)
    sandbox.hand_over(root)


def execute(job):
    """Run ``job`` (already claimed: status running) to its end and record the result."""
    root = Path(tempfile.mkdtemp(prefix=f"job-{job.job_id}-"))
    writer = LogWriter(job)
    state = RunState()
    try:
        try:
            sandbox.check()
            content = prepare(job, root)
        except (ValidationError, sandbox.SandboxUnavailable) as exc:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            writer.write(f"ERROR! Cannot prepare the run: {reason}")
            writer.flush()
            job.finish(Job.Status.FAILED, error_message=f"Cannot run: {reason}")
            return job
        Job.objects.filter(pk=job.pk).update(playbook_sha256=storage.sha256_text(content))
        runner = init_runner(
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
        _confine(runner, root)
        runner.run()
        writer.flush()
        _record_result(job, runner, state)
    except Exception as exc:  # never leave a job running because of our own failure
        writer.flush()
        job.refresh_from_db()
        if job.status == Job.Status.RUNNING:
            job.finish(Job.Status.FAILED, error_message=f"Internal error while running: {exc}")
        raise
    finally:
        _adopt_host_keys(job.server, root)
        shutil.rmtree(root, ignore_errors=True)
    return job


def _adopt_host_keys(server, root):
    """Host keys Ansible met for the first time during the run join the shared known_hosts
    (trust on first use, as the metrics collector does); a key already there never changes."""
    learned = root / "ssh" / "known_hosts"
    if server.is_local or not learned.is_file():
        return
    hosts = {host_entry(server.ip_address, server.ssh_port)}
    try:
        known_hosts_adopt(learned, hosts)
    except Exception:  # a bad line the run wrote must not turn a finished job into an error
        logging.getLogger(__name__).exception("Could not adopt host keys from job %s", server)


def _on_event(event, writer, state):
    state.playbook_pid = state.playbook_pid or event.get("pid")
    name = event.get("event", "")
    data = event.get("event_data") or {}
    stdout = event.get("stdout")
    if stdout:
        writer.write(stdout, name)
        if not state.prompt_refused and any(marker in stdout for marker in PROMPT_MARKERS):
            # ansible-playbook skipped a prompt and would go on without the answer: stop it
            # now, before its next task starts, rather than at the next cancel check.
            state.prompt_refused = True
            _stop_now(state)
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
    the cancel flag. On cancel, SIGTERM ansible-playbook first so it can stop its workers;
    after the grace period the runner kills the sandbox, and with it every process inside."""
    writer.flush_if_due()
    if state.prompt_refused:
        return True
    if state.cancel_seen_at is None:
        if not Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
            return False
        state.cancel_seen_at = time.monotonic()
        pid = _playbook_host_pid(state)
        if pid is None:
            return True
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return True
        return False
    return time.monotonic() - state.cancel_seen_at >= CANCEL_GRACE_SECONDS


def _playbook_host_pid(state):
    """Events report ansible-playbook's pid inside the sandbox's pid namespace."""
    return sandbox.host_pid(state.playbook_pid) if state.playbook_pid else None


def _stop_now(state):
    """Kill the run at once: the sandbox's init (every process in its pid namespace dies with
    it) or, unconfined, ansible-playbook's process group."""
    pid = sandbox.host_pid(1) if sandbox.enabled() else None
    try:
        if pid:
            os.kill(pid, signal.SIGKILL)
        elif (pid := _playbook_host_pid(state)) is not None:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    except ProcessLookupError:
        pass


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
    if state.prompt_refused:
        status, message = Job.Status.FAILED, PROMPT_MESSAGE
    elif runner.status == "canceled" or job.cancel_requested:
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
