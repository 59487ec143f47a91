"""How the worker reads ansible-playbook's output: handed to the console writer piece by piece
as it arrives, never a whole event at once.

ansible-runner reads the pty through ``OutputEventFilter``: it keeps everything printed since
the last event marker in one buffer and hands an event its output when the event ends. One
task printing a million lines is one event: 30 MB of text held, then copied several times
(the buffer's value, the slice, the stripped text, the artifact file's line) before the
handler sees it. pexpect, under it, keeps everything read since its last pattern match, and
ansible-runner's patterns (a timeout, EOF) match only at the end of the run: the whole output
again, copied every 0.5 s. Together they grew the worker by 226 MB for a million lines.

``StreamingEventFilter`` replaces the filter for runs started inside ``console_stream``: text
goes to the writer (automation/runner/callback.py) as it is read, with the name of the event
it belongs to (read from the partial event file the display callback writes before its
marker), and each event reaches ansible-runner's own callback, with its data but no output,
when its end marker arrives. What it keeps is bounded: the start of a marker cut by a read,
and a marker's body (a few hundred characters). Outside ``console_stream`` it is
ansible-runner's filter unchanged.
"""

import base64
import binascii
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import pexpect.expect
from ansible_runner import runner as runner_module
from ansible_runner.utils import OutputEventFilter

# An event marker: ESC[K, base64 in chunks each followed by ESC[<n>D, ESC[K.
MARKER = "\x1b[K"
MARKER_BODY = re.compile(r"(?:[A-Za-z0-9+/=]+\x1b\[\d+D)+")
MARKER_BODY_START = re.compile(r"[A-Za-z0-9+/=\x1b\[\dD]*")
CHUNK_END = re.compile(r"\x1b\[\d+D")
MARKER_MAX = 64 * 1024
# The display callback dumps each event's data starting with its name.
EVENT_NAME = re.compile(r'^\{"event": "(\w+)"')
# The event's host ("host" in event_data), read from the start of the partial file.
EVENT_HOST = re.compile(r'"event_data": \{.*?"host": "((?:[^"\\]|\\.)*)"', re.DOTALL)
EVENT_HEAD_CHARS = 16 * 1024

_target: ContextVar[tuple | None] = ContextVar("console_stream", default=None)


@contextmanager
def console_stream(writer, events_dir: Path) -> Iterator[None]:
    """Runs started inside hand their output to ``writer`` (feed/end_event) as it arrives;
    ``events_dir`` is the run's artifacts/<ident>/job_events."""
    token = _target.set((writer, Path(events_dir)))
    try:
        yield
    finally:
        _target.reset(token)


class StreamingEventFilter(OutputEventFilter):
    """ansible-runner's output filter, streaming (see the module's docstring)."""

    def __init__(self, handle, event_callback, suppress_ansible_output=False, output_json=False):
        super().__init__(handle, event_callback, suppress_ansible_output, output_json)
        self._target = _target.get()
        self._carry = ""  # the start of a marker cut by a read
        self._marker: str | None = None  # the body of the marker being read
        self._event: dict | None = None  # the open event: uuid and name
        self._lines = 0

    def write(self, data: str) -> None:
        if self._target is None:
            return super().write(data)
        text = self._carry + data
        keep = 2 if text.endswith("\x1b[") else 1 if text.endswith("\x1b") else 0
        self._carry = text[len(text) - keep :]
        text = text[: len(text) - keep]
        position = 0
        while position < len(text):
            if self._marker is None:
                start = text.find(MARKER, position)
                if start < 0:
                    self._text(text[position:])
                    return
                self._text(text[position:start])
                self._marker, position = "", start + len(MARKER)
                continue
            end = text.find(MARKER, position)
            body = self._marker + text[position : end if end >= 0 else len(text)]
            if end < 0:
                if len(body) > MARKER_MAX or not MARKER_BODY_START.fullmatch(body):
                    self._marker = None
                    self._text(MARKER + body)  # playbook output that looked like a marker
                else:
                    self._marker = body
                return
            self._marker = None
            if MARKER_BODY.fullmatch(body):
                self._on_marker(body)
                position = end + len(MARKER)
            else:
                self._text(MARKER + body)
                position = end  # the closing ESC[K may open a real marker

    def close(self) -> None:
        if self._target is None:
            return super().close()
        if self._marker is not None:
            self._text(MARKER + self._marker)
        self._text(self._carry)
        self._end_event()
        self._event_callback({"event": "EOF"})
        if self._handle:
            self._handle.close()

    def _text(self, text: str) -> None:
        if text:
            writer = self._target[0]  # type: ignore[index]
            writer.feed(text, self._event["event"] if self._event else "verbose")
            self._lines += text.count("\n")

    def _on_marker(self, body: str) -> None:
        try:
            data = json.loads(base64.b64decode(CHUNK_END.sub("", body)))
        except (ValueError, binascii.Error):
            data = {}
        self._end_event()
        if isinstance(data, dict) and data.get("uuid"):  # an event begins
            name, host = self._event_name(data["uuid"])
            self._event = {"uuid": data["uuid"], "event": name}
            self._target[0].host = host  # type: ignore[index]

    def _event_name(self, uuid: str) -> tuple[str, str]:
        """(name, host) of an event, from the start of its partial file: the host is in its
        event_data, before the result (``res``), which may be long."""
        path = self._target[1] / f"{uuid}-partial.json"  # type: ignore[index]
        try:
            with open(path, encoding="utf-8") as partial:
                head = partial.read(EVENT_HEAD_CHARS)
        except OSError:
            return "", ""
        match = EVENT_NAME.match(head)
        host = EVENT_HOST.search(head)
        return (match[1] if match else ""), (_json_text(host[1]) if host else "")

    def _end_event(self) -> None:
        writer = self._target[0]  # type: ignore[index]
        writer.end_event(self._event["event"] if self._event else "verbose")
        writer.host = ""
        if self._event is None:
            return
        self._counter += 1
        event = {
            "uuid": self._event["uuid"],
            "counter": self._counter,
            "stdout": "",
            "start_line": self._start_line,
            "end_line": self._lines,
        }
        self._start_line = self._lines
        self._event = None
        # ansible-runner adds the event's data from its partial file and calls our handler.
        self._event_callback(event)


def _json_text(escaped: str) -> str:
    try:
        return json.loads(f'"{escaped}"')
    except ValueError:
        return ""


_expecter_timeout = pexpect.expect.Expecter.timeout


def _timeout_forgetting_output(self, err=None):
    """pexpect's timeout, then drop what it read: ansible-runner never reads ``before``, and
    kept, it is the whole output of the run (its patterns match only at the end)."""
    index = _expecter_timeout(self, err)
    self.spawn._before = self.spawn.buffer_type()
    self.spawn.before = None
    return index


# Only the worker imports this module (through execute.py), for runs of its own.
runner_module.OutputEventFilter = StreamingEventFilter  # type: ignore[misc]
pexpect.expect.Expecter.timeout = _timeout_forgetting_output  # type: ignore[method-assign]
