"""The sentence a failed job shows: what happened, in words a person acts on.

Ansible reports a host it could not reach with OpenSSH's own output (a banner of ``@`` signs for
a changed host key, ``Permission denied (publickey)`` for a rejected key). Those raw lines stay in
the console; the job's error message says what they mean and what to do. No database, no
ansible-runner: the event handler (automation/runner/callback.py) calls ``first_failure``.
"""

import re

from django.conf import settings

MAX_LENGTH = 2000

# (pattern in OpenSSH's output, what it means). The first match wins: a changed host key also
# prints "Host key verification failed", a rejected key sometimes "Connection closed".
_SSH_CAUSES = (
    (
        re.compile(r"REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed", re.I),
        "host_key_changed",
    ),
    (re.compile(r"Permission denied \((?:publickey|password|keyboard)", re.I), "key_refused"),
    (
        re.compile(
            r"(?:Load key|Warning: Identity file) .*(?:invalid format|not accessible)", re.I
        ),
        "key_unreadable",
    ),
    (
        re.compile(r"timed out during banner exchange|banner exchange: Connection", re.I),
        "no_greeting",
    ),
    (re.compile(r"Connection refused", re.I), "refused"),
    (re.compile(r"Could not resolve hostname|Name or service not known", re.I), "unresolved"),
    (re.compile(r"Connection timed out|Operation timed out|No route to host", re.I), "no_answer"),
)


def _host_key_changed(host: str, raw: str) -> str:
    return (
        f"Host {host} presented a different SSH host key than the one recorded for it, so the "
        f"job did not connect. If the server was reinstalled on purpose, remove its line from "
        f"{settings.SSH_KNOWN_HOSTS} and run the job again; otherwise treat it as a possible "
        "attack and find out why the key changed."
    )


def _key_refused(host: str, raw: str) -> str:
    who = match.group(1) if (match := re.search(r"(\S+@\S+): Permission denied", raw)) else ""
    account = f" ({who})" if who else ""
    return (
        f"Host {host} refused the SSH key{account}: the server's SSH user does not accept the "
        "key configured for this server. Check the SSH user and key on the server's page, or "
        "add the key's public half to that user's authorized_keys."
    )


def _key_unreadable(host: str, raw: str) -> str:
    return (
        f"Host {host}: the SSH key configured for this server could not be read (not a private "
        "key, or a key with a passphrase). Choose a private key without a passphrase."
    )


def _no_greeting(host: str, raw: str) -> str:
    return (
        f"Host {host} accepted the connection but sent no SSH greeting: something listens on "
        "that port, but it is not answering as an SSH server (a hung sshd, a firewall or a "
        "different service). Check the SSH port on the server's page."
    )


def _refused(host: str, raw: str) -> str:
    return (
        f"Host {host} refused the connection: nothing listens on its SSH port. Check that sshd "
        "runs and the port on the server's page."
    )


def _unresolved(host: str, raw: str) -> str:
    return f"Host {host} could not be found: its address does not resolve. Check the address."


def _no_answer(host: str, raw: str) -> str:
    return (
        f"Host {host} did not answer: the connection timed out (the machine is down, or a "
        "firewall drops the traffic)."
    )


_PHRASES = {
    "host_key_changed": _host_key_changed,
    "key_refused": _key_refused,
    "key_unreadable": _key_unreadable,
    "no_greeting": _no_greeting,
    "refused": _refused,
    "unresolved": _unresolved,
    "no_answer": _no_answer,
}


def ssh_cause(raw: str) -> str | None:
    """The name of what went wrong, read from OpenSSH's output (None when not recognised)."""
    for pattern, cause in _SSH_CAUSES:
        if pattern.search(raw):
            return cause
    return None


def unreachable(host: str, raw: str) -> str:
    """Why ``host`` could not be reached, from the message Ansible gave (ANSI codes removed)."""
    cause = ssh_cause(raw)
    if cause is None:
        return f"Host {host} unreachable: {raw}"
    return _PHRASES[cause](host, raw)


def task_failed(task: str, host: str, raw: str) -> str:
    """A task that failed; a connection failure inside it (an ssh error while the task ran)
    still reads as what happened."""
    cause = ssh_cause(raw)
    if cause in ("host_key_changed", "key_refused"):
        return f"Task '{task}' failed: " + _PHRASES[cause](host, raw)
    return f"Task '{task}' failed on host {host}: {raw}"


def first_failure(event: str, data: dict, raw: str) -> str:
    """The job's error message for its first failed event (``raw``: Ansible's message, plain
    text)."""
    host = str(data.get("host"))
    if event == "runner_on_unreachable":
        message = unreachable(host, raw)
    else:
        message = task_failed(str(data.get("task")), host, raw)
    return message[:MAX_LENGTH]
