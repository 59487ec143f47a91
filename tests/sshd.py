"""A real OpenSSH server on a free loopback port, for tests and benchmarks.

Each instance has its own host key, config and authorized_keys in a temporary directory; the
client key it accepts lives in ``key_dir`` (use it as SSH_KEYS_DIR). Nothing is installed here:
``openssh-server`` comes from scripts/system-deps.sh.
"""

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


# Under pytest-xdist each worker (PYTEST_XDIST_WORKER=gw0, gw1, ...) takes its ports from a block
# of its own below the kernel's ephemeral range (32768-60999 on Linux), never from port 0: a port
# one worker found free and is about to give to sshd or redis, or keeps closed on purpose for an
# "unreachable" test, must not be what the kernel hands the next worker a moment later. Outside
# xdist (a serial run, bench/) the kernel picks, as before.
PORT_BASE = 20000
PORT_BLOCK = 500
_handed_out = 0


def _bindable(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port():
    """A loopback TCP port nobody listens on (see above for parallel runs)."""
    global _handed_out
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]
    start = PORT_BASE + int(worker.removeprefix("gw")) % 25 * PORT_BLOCK
    for _ in range(PORT_BLOCK):
        # Never the same port twice in a row: one just handed out may not be bound yet.
        port = start + _handed_out % PORT_BLOCK
        _handed_out += 1
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@dataclass
class SshServer:
    root: Path
    key_dir: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    key_name: str = "id_test"
    process: subprocess.Popen | None = None

    @property
    def key_path(self):
        return self.key_dir / self.key_name

    @property
    def host_key_path(self):
        return self.root / "host_ed25519"

    def start(self, host_key=None):
        """Start sshd; ``host_key`` reuses a host key file (default: this server's own)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.key_dir.mkdir(parents=True, exist_ok=True)
        if not self.key_path.exists():
            keygen(self.key_path)
        if host_key is None:
            if not self.host_key_path.exists():
                keygen(self.host_key_path)
            host_key = self.host_key_path
        home = self.root / "home"
        home.mkdir(exist_ok=True)
        authorized = self.root / "authorized_keys"
        shutil.copy(self.key_path.with_suffix(".pub"), authorized)
        if self.user != getpass.getuser():
            # sshd reads authorized_keys as the user logging in.
            self.root.chmod(0o755)
            authorized.chmod(0o644)
        config = self.root / "sshd_config"
        config.write_text(
            f"""\
ListenAddress {self.host}
Port {self.port}
HostKey {host_key}
PidFile {self.root / "sshd.pid"}
AuthorizedKeysFile {authorized}
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxStartups 200:30:400
MaxSessions 100
SetEnv HOME={home}
LogLevel ERROR
"""
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        with open(self.root / "sshd.log", "ab") as log:  # sshd keeps its own copy of the fd
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not start listening within 10 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def sshd_available():
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None
