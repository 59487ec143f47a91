"""What ansible-runner calls while a playbook runs: the event handler (console lines, the first
failure, a prompt that cannot be answered) and the cancel callback, with the writer that stores
console lines in batches.

Memory stays flat whatever the output size: lines are written to job_logs in batches (by count
and by time) and nothing else is kept per event.
"""

import os
import signal
import time
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from automation.console import console_text
from automation.models import Job, JobLog
from automation.runner import messages, sandbox
from core.db import insert_sql

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


def on_event(event, writer, state):
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
        state.first_failure = messages.first_failure(name, data, message)
    # Returning True makes ansible-runner keep the event on disk; only the stats are needed.
    return name == "playbook_on_stats"


def should_cancel(job, writer, state):
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
