"""SSH sessions to servers: key auth, timeouts, and trust-on-first-use host keys.

Host keys live in settings.SSH_KNOWN_HOSTS, OpenSSH format, the same file Ansible reads
(``UserKnownHostsFile``), so a host the collector has met is already trusted by a job and a
changed key is refused by both. Several threads and processes poll at once: every write to the
file happens under an exclusive ``fcntl`` lock, after reloading it.
"""

import fcntl
import io
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ValidationError

from inventory import crypto
from inventory.keys import resolve_key_path


class SshError(Exception):
    """A failure a person can act on; ``str()`` is the message shown in the page."""


class Unreachable(SshError):
    pass


class HostKeyChanged(SshError):
    pass


@contextmanager
def known_hosts_locked():
    """Hold the known_hosts lock; yields the known_hosts path."""
    path = Path(settings.SSH_KNOWN_HOSTS)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def host_entry(host, port):
    """The name OpenSSH (and paramiko) file a host under: ``[host]:port`` unless port 22."""
    return host if int(port) == 22 else f"[{host}]:{port}"


def load_known_hosts(path):
    keys = paramiko.HostKeys()
    if path.exists():
        keys.load(str(path))
    return keys


def known_hosts_adopt(learned_path, hosts):
    """Add to the shared known_hosts the keys recorded in ``learned_path`` (a job's copy, where
    ssh accepted new hosts) for those of ``hosts`` that have no key recorded yet: a run cannot
    plant or change a key for any other host. Returns the number of lines added."""
    learned = load_known_hosts(Path(learned_path))
    added = []
    with known_hosts_locked() as path:
        shared = load_known_hosts(path)
        for host in sorted(hosts):
            if shared.lookup(host):
                continue  # known already: only a first meeting is adopted
            for key_type, key in (learned.lookup(host) or {}).items():
                added.append(f"{host} {key_type} {key.get_base64()}\n")
        if added:
            with open(path, "a") as fh:
                fh.writelines(added)
    return len(added)


class TrustOnFirstUse(paramiko.MissingHostKeyPolicy):
    """Record an unknown host's key; a key that appeared meanwhile must match."""

    def missing_host_key(self, client, hostname, key):
        with known_hosts_locked() as path:
            keys = load_known_hosts(path)
            stored = keys.lookup(hostname)
            if stored and key.get_name() in stored:
                if stored[key.get_name()] != key:
                    raise HostKeyChanged(host_key_changed_message(hostname))
                return
            with open(path, "a") as fh:
                fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def host_key_changed_message(hostname):
    return (
        f"host key changed for {hostname}: the server presents a different key than the one "
        f"recorded in {settings.SSH_KNOWN_HOSTS}. Nothing was collected. If the server was "
        f"reinstalled on purpose, remove its line from that file."
    )


def connect(server):
    """An authenticated paramiko client for ``server`` (caller closes it).

    Raises SshError subclasses with messages meant for people.
    """
    auth = _auth(server)
    address = (server.ip_address, server.ssh_port)
    timeout = settings.SSH_CONNECT_TIMEOUT
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except TimeoutError as exc:
        raise Unreachable(
            f"unreachable: no answer from {_fmt(address)} within {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise Unreachable(f"unreachable: {_fmt(address)}: {exc.strerror or exc}") from exc
    # Small SSH packets otherwise wait for delayed ACKs: 3x faster connects and commands.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = paramiko.SSHClient()
    with known_hosts_locked() as path:  # never read a line another process is writing
        if path.exists():
            client.load_system_host_keys(str(path))
    client.set_missing_host_key_policy(TrustOnFirstUse())
    started = time.monotonic()
    try:
        client.connect(
            server.ip_address,
            port=server.ssh_port,
            username=auth.pop("username", server.ssh_user),
            **auth,
            sock=sock,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            look_for_keys=False,
            allow_agent=False,
        )
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyChanged(host_key_changed_message(host_entry(*address))) from exc
    except SshError:
        client.close()
        raise
    except paramiko.AuthenticationException as exc:
        client.close()
        raise SshError(
            f"authentication failed for {server.ssh_user}@{_fmt(address)} with "
            + (
                f"credential {server.credential}"
                if server.credential_id
                else f"key {server.ssh_key_path}"
            )
        ) from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        raise Unreachable(_handshake_failed(address, exc, time.monotonic() - started)) from exc
    return client


def _auth(server):
    """paramiko's login arguments for ``server``: its stored credential (a key opened in
    memory, or a password), else its key file. Raises SshError with the reason."""
    credential = server.credential
    if credential is None:
        try:
            return {"key_filename": str(resolve_key_path(server.ssh_key_path))}
        except ValidationError as exc:
            raise SshError(f"SSH key problem: {' '.join(exc.messages)}") from exc
    try:
        values = credential.secrets()
    except crypto.CredentialsKeyError as exc:
        raise SshError(f"credential {credential.name}: {exc}") from exc
    auth = {"username": credential.username} if credential.username else {}
    if credential.kind == credential.Kind.SSH_PASSWORD:
        return auth | {"password": values.get("password", "")}
    try:
        key = crypto.load_private_key(values.get("private_key", ""), values.get("passphrase", ""))
    except ValidationError as exc:
        raise SshError(f"credential {credential.name}: {' '.join(exc.messages)}") from exc
    kind = {
        ed25519.Ed25519PrivateKey: paramiko.Ed25519Key,
        rsa.RSAPrivateKey: paramiko.RSAKey,
        ec.EllipticCurvePrivateKey: paramiko.ECDSAKey,
    }
    key_class = next(cls for base, cls in kind.items() if isinstance(key, base))
    text = crypto.unencrypted_openssh(key)
    return auth | {"pkey": key_class.from_private_key(io.StringIO(text))}


def _handshake_failed(address, exc, elapsed):
    """What a failed SSH handshake means. paramiko reports a host that accepts TCP and then
    says nothing as "Error reading SSH protocol banner", or, when its reader gave up first,
    as "No existing session": neither tells a person what happened."""
    timeout = settings.SSH_CONNECT_TIMEOUT
    text = str(exc)
    silent = "banner" in text.lower() or (
        "No existing session" in text and elapsed >= timeout * 0.9
    )
    if silent:
        return (
            f"unreachable: {_fmt(address)} accepted the connection but sent no SSH greeting "
            f"within {timeout:g} s: something listens there, but it does not answer as an SSH "
            "server (a hung sshd, a firewall or another service on that port)"
        )
    if "No existing session" in text:
        return (
            f"unreachable: {_fmt(address)} closed the connection before the SSH login "
            "(the server dropped it: too many connections, or a firewall)"
        )
    return f"unreachable: SSH handshake with {_fmt(address)} failed: {exc or type(exc).__name__}"


def run(client, command, timeout=None):
    """Run ``command``; returns stdout as text. Raises SshError on timeout or non-zero exit."""
    timeout = timeout or settings.SSH_COMMAND_TIMEOUT
    try:
        _, stdout, stderr = client.exec_command(command, timeout=timeout)
        out = stdout.read().decode(errors="replace")
        err = stderr.read().decode(errors="replace")
        status = stdout.channel.recv_exit_status()
    except TimeoutError as exc:
        raise SshError(f"command timed out after {timeout:g} s: {command}") from exc
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SshError(f"connection lost while running {command!r}: {exc}") from exc
    if status != 0:
        raise SshError(f"{command!r} exited with {status}: {err.strip()[:300]}")
    return out


def run_on(server, command, timeout=None):
    """Run ``command`` on the server: over SSH, or on the controller for a local server."""
    timeout = timeout or settings.SSH_COMMAND_TIMEOUT
    if server.is_local:
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", command], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise SshError(f"command timed out after {timeout:g} s: {command}") from exc
        if done.returncode != 0:
            raise SshError(f"{command!r} exited with {done.returncode}: {done.stderr[:300]}")
        return done.stdout
    client = connect(server)
    try:
        return run(client, command, timeout)
    finally:
        client.close()


def _fmt(address):
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def known_host_fingerprints(server):
    """[(key type, SHA256 fingerprint)] recorded in SSH_KNOWN_HOSTS for ``server``."""
    if server.is_local:
        return []
    entry = host_entry(server.ip_address, server.ssh_port)
    with known_hosts_locked() as path:
        keys = load_known_hosts(path).lookup(entry) or {}
    return [(key_type, _sha256(key.asbytes())) for key_type, key in sorted(keys.items())]


def known_hosts_forget(server):
    """Remove ``server``'s lines from SSH_KNOWN_HOSTS: its next connection records the key it
    presents (trust on first use again). Returns the number of lines removed."""
    entry = host_entry(server.ip_address, server.ssh_port)
    with known_hosts_locked() as path:
        if not path.exists():
            return 0
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if entry not in line.split(" ", 1)[0].split(",")]
        if len(kept) != len(lines):
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text("".join(kept))
            tmp.replace(path)
    return len(lines) - len(kept)


def _sha256(blob):
    import base64
    import hashlib

    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
