"""What ansible-runner calls while a playbook runs: the event handler (the first failure, the
playbook's pid) and the cancel callback, with the writer that stores console lines in batches.

Console output reaches the writer as it arrives (automation/runner/stream.py), in pieces of a
pty read: memory stays flat whatever the output size, since a line longer than a row
(``CONSOLE_ROW_CHARS``) is stored as several rows and rows are written in batches bounded by
count, bytes and age.

Neither callback ever raises because of the database (ansible-runner would turn that into a
CallbackError and lose the run's end): while the database is away lines wait in the buffer;
once the buffer is full the writer blocks, which pauses ansible-playbook on its pty; after
``JOB_DB_RETRY_SECONDS`` the run is stopped and execute.py fails it when the database is back.
"""

import logging
import os
import re
import signal
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from automation.console import console_text
from automation.models import Job, JobLog
from automation.runner import messages, sandbox
from automation.runner.retry import DB_ERRORS, Outage
from core.db import insert_sql

# Text per row: a longer line continues on the next rows. Far below any server's packet
# limit (MariaDB's max_allowed_packet is 16 MiB by default, 4 MiB on older servers).
CONSOLE_ROW_CHARS = 64 * 1024
# One INSERT carries at most this many rows and bytes of text.
BATCH_LINES = 500
BATCH_BYTES = 512 * 1024
BATCH_SECONDS = 0.5
# Rows held while the database is away; past either bound the writer blocks (and with it
# ansible-playbook, on its pty) until the rows are stored or the run is given up.
BUFFER_LINES = 20_000
BUFFER_BYTES = 4 * 1024 * 1024
LINE_BREAK = re.compile(r"\r\n|\r|\n")
CANCEL_GRACE_SECONDS = 1.0
ERROR_PREFIXES = ("fatal:", "failed:", "error!", "[error]", "error:")
WARNING_PREFIXES = ("[warning]", "[deprecation warning]", "warning:", "[deprecation")
FAILED_EVENTS = ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable")
# A play whose hosts: pattern matched none of the inventory's hosts ("skipping: no hosts
# matched"), or whose hosts all failed before it: recorded on the job (Job.warnings).
NO_HOSTS_EVENTS = ("playbook_on_no_hosts_matched", "playbook_on_no_hosts_remaining")
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
    """Cuts console output into numbered rows and inserts them in batches.

    ``feed`` takes output in pieces as they arrive (a piece may end mid-line); ``end_event``
    closes an event's output. A line is cut into rows of ``CONSOLE_ROW_CHARS`` (the first keeps
    the line's level, the others are marked ``continuation``), so neither a row nor the
    writer's memory grows with a line. As in ansible-runner's events, blank lines at the end of
    an event and outside events are left out.

    Rows go in as plain tuples through executemany (one multi-row INSERT per batch on MySQL):
    this is the hot path of every job, and model instances would cost more than the insert.
    A failed batch stays in the buffer and is written later; since the failure may have come
    after the commit, the retry first reads which of its line numbers are stored already.
    """

    def __init__(self, job, state=None):
        self.job = job
        self.state = state or RunState()
        self.outage = Outage()
        self.buffer = []  # (line_number, content, level, continuation, bytes, host)
        # The host of the event whose output is being read (set by stream.py); '' outside.
        self.host = ""
        self.buffered_bytes = 0
        self.uncertain = False  # a write failed: some buffered rows may be stored already
        self.line_number = self.outage.retry(
            JobLog.objects.filter(job=job).count, seconds=settings.JOB_DB_RETRY_SECONDS
        )
        self.first_error_line = None
        self.last_flush = time.monotonic()
        self.stored = 0
        # The line being read: its pieces, their length, and whether rows of it are out.
        self.parts = []
        self.parts_length = 0
        self.line_level = None
        self.blank_lines = 0
        self.after_cr = False
        # Replaces every secret value the run uses by ******** (automation/runner/credentials.py);
        # set once the run's credentials are written. Applied to each row before it is stored.
        self.mask = _no_mask
        self.sql = insert_sql(
            JobLog,
            ("job", "line_number", "content", "log_level", "continuation", "host", "timestamp"),
        )

    # --- cutting output into rows --------------------------------------------------------

    def write(self, text, event=""):
        """The whole output of one event."""
        self.feed(text, event)
        self.end_event(event)

    def feed(self, text, event=""):
        """A piece of output; lines end with CR LF, LF or CR (ansible's pty writes CR LF)."""
        if self.after_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CR LF cut between two reads
        self.after_cr = text.endswith("\r")
        start = 0
        for match in LINE_BREAK.finditer(text):
            self._add(text[start : match.start()], event)
            self._end_line(event)
            start = match.end()
        if start < len(text):
            self._add(text[start:], event)
        self._keep_up()

    def end_event(self, event=""):
        if self.parts_length or self.line_level is not None:
            self._end_line(event)
        self.blank_lines = 0
        self._keep_up()

    def _add(self, piece, event):
        if not piece:
            return
        self.parts.append(piece)
        self.parts_length += len(piece)
        if self.parts_length > CONSOLE_ROW_CHARS:
            text = "".join(self.parts)
            while len(text) > CONSOLE_ROW_CHARS:
                cut = CONSOLE_ROW_CHARS
                # Never cut a colour code in two: each row is shown and stripped on its own.
                escape = text.rfind("\x1b", cut - 32, cut)
                cut = escape if escape > 0 else cut
                self._row(text[:cut], event)
                text = text[cut:]
            self.parts, self.parts_length = [text], len(text)

    def _end_line(self, event):
        content = "".join(self.parts)
        self.parts, self.parts_length = [], 0
        if not content and self.line_level is None:
            if event != "verbose":
                self.blank_lines += 1  # kept only if the event prints more after it
            return
        self._row(content, event)
        self.line_level = None

    def _row(self, content, event):
        content = self.mask(content)
        continuation = self.line_level is not None
        if not continuation:
            for _ in range(self.blank_lines):
                self._append("", classify("", event), False)
            self.blank_lines = 0
            self.line_level = classify(content, event)
            if self.line_level == JobLog.Level.ERROR and self.first_error_line is None:
                self.first_error_line = self.line_number + 1
        self._append(content, self.line_level, continuation)
        if not self.state.prompt_refused and any(m in content for m in PROMPT_MARKERS):
            # ansible-playbook skipped a prompt and would go on without the answer: stop it
            # now, before its next task starts, rather than at the next cancel check.
            self.state.prompt_refused = True
            stop_now(self.state)

    def _append(self, content, level, continuation):
        self.line_number += 1
        size = len(content) if content.isascii() else len(content.encode("utf-8", "replace"))
        self.buffer.append((self.line_number, content, level, continuation, size, self.host))
        self.buffered_bytes += size

    # --- writing rows --------------------------------------------------------------------

    def _keep_up(self):
        """Write full batches; block while the buffer is over its bounds and the database
        is away (backpressure), until it is back or the run is given up."""
        if len(self.buffer) >= BATCH_LINES or self.buffered_bytes >= BATCH_BYTES:
            self.flush_safely()
        while (
            len(self.buffer) > BUFFER_LINES or self.buffered_bytes > BUFFER_BYTES
        ) and self.state.database_lost_since is None:
            time.sleep(max(0.0, self.outage.next_try - time.monotonic()))
            if not self.flush_safely():
                self.give_up_if_overdue()

    def flush_if_due(self):
        if self.buffer and time.monotonic() - self.last_flush >= BATCH_SECONDS:
            self.flush_safely()

    def flush_safely(self):
        """``flush`` for the callbacks: a database error is noted, never raised. True when
        the buffer is empty afterwards."""
        if not self.outage.may_try():
            return False
        ok, _ = self.outage.attempt(self.flush)
        return ok

    def give_up_if_overdue(self):
        """Stop the run once the database has been away longer than JOB_DB_RETRY_SECONDS."""
        if self.state.database_lost_since is None and (
            self.outage.seconds > settings.JOB_DB_RETRY_SECONDS
        ):
            self.state.database_lost_since = self.outage.since
            logging.getLogger(__name__).error(
                "Database unavailable for %.0f s: stopping job %s", self.outage.seconds, self.job
            )
            stop_now(self.state)
        return self.state.database_lost_since is not None

    def flush(self):
        """Write every buffered row, in batches bounded by count and bytes. Raises on a
        database error; the rows not written stay buffered."""
        self.last_flush = time.monotonic()
        while self.buffer:
            count, size = 0, 0
            for row in self.buffer:
                if count and (count >= BATCH_LINES or size + row[4] > BATCH_BYTES):
                    break
                count, size = count + 1, size + row[4]
            try:
                self._insert(self.buffer[:count])
            except DB_ERRORS:
                self.uncertain = True
                raise
            del self.buffer[:count]
            self.buffered_bytes -= size
            self.stored += count
        self.uncertain = False

    def _insert(self, batch):
        if self.uncertain:
            stored = set(
                JobLog.objects.filter(
                    job_id=self.job.pk, line_number__range=(batch[0][0], batch[-1][0])
                ).values_list("line_number", flat=True)
            )
            batch = [row for row in batch if row[0] not in stored]
        stamp = connection.ops.adapt_datetimefield_value(timezone.now())
        rows = [
            (self.job.pk, number, content, level, continuation, host[:255], stamp)
            for number, content, level, continuation, _, host in batch
        ]
        with transaction.atomic():
            if rows:
                with connection.cursor() as cursor:
                    cursor.executemany(self.sql, rows)
            if self.first_error_line is not None and self.job.first_error_line is None:
                Job.objects.filter(pk=self.job.pk).update(first_error_line=self.first_error_line)
        if self.first_error_line is not None:
            self.job.first_error_line = self.first_error_line


def _no_mask(text):
    return text


@dataclass
class RunState:
    """What the handlers learn while the playbook runs."""

    playbook_pid: int | None = None
    first_failure: str = ""
    cancel_seen_at: float | None = None
    prompt_refused: bool = False
    # Set when the run was stopped because the database stayed away: since when it was.
    database_lost_since: float | None = None
    # Plays that matched no host (or had none left): "play 'name' (hosts: pattern)".
    no_hosts_matched: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)


def on_event(event, writer, state):
    state.playbook_pid = state.playbook_pid or event.get("pid")
    name = event.get("event", "")
    data = event.get("event_data") or {}
    stdout = event.get("stdout")
    if stdout:  # output not streamed (stream.py hands events over with their output read)
        writer.host = str(data.get("host") or "")
        writer.write(stdout, name)
        writer.host = ""
    else:
        writer.flush_if_due()
    if name in NO_HOSTS_EVENTS:
        play = data.get("play") or ""
        pattern = data.get("play_pattern") or ""
        what = "matched no host" if name == NO_HOSTS_EVENTS[0] else "had no hosts left"
        note = f"play '{play}' (hosts: {pattern}) {what}"
        if note not in state.no_hosts_matched:
            state.no_hosts_matched.append(note)
    if name in FAILED_EVENTS and not data.get("ignore_errors") and not state.first_failure:
        result = data.get("res") or {}
        message = strip_ansi(str(result.get("msg") or result.get("stderr") or "")).strip()
        state.first_failure = messages.first_failure(name, data, message)
    # Returning True makes ansible-runner keep the event on disk; only the stats are needed.
    return name == "playbook_on_stats"


def should_cancel(job, writer, state):
    """Called by ansible-runner every pexpect_timeout (0.5 s): flush quiet output and look at
    the cancel flag. On cancel, SIGTERM ansible-playbook first so it can stop its workers;
    after the grace period the runner kills the sandbox, and with it every process inside.
    While the database is away the flag cannot be read: the run goes on until it is back or
    JOB_DB_RETRY_SECONDS pass."""
    writer.flush_if_due()
    if state.prompt_refused or writer.give_up_if_overdue():
        return True
    if state.cancel_seen_at is None:
        if not writer.outage.may_try():
            return False
        _, cancel = writer.outage.attempt(
            lambda: Job.objects.filter(pk=job.pk, cancel_requested=True).exists()
        )
        if not cancel:
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


def stop_now(state):
    """Kill the run at once (a prompt it cannot answer, the database lost, a failure of
    ours): the sandbox's init (every process in its pid namespace dies with it) or,
    unconfined, ansible-playbook's process group."""
    pid = sandbox.host_pid(1) if sandbox.enabled() else None
    try:
        if pid:
            os.kill(pid, signal.SIGKILL)
        elif (pid := _playbook_host_pid(state)) is not None:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
    except ProcessLookupError:
        pass
