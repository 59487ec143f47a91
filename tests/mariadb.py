"""A private MariaDB server for tests that kill and restart the database under a running job.

Its own data directory (in a temporary directory owned by ``mysql``, since mariadbd refuses to
run as root), a free loopback port and socket, and ``--skip-grant-tables`` (root, no password).
Nothing is installed here: ``mariadb-server`` comes from scripts/system-deps.sh.
"""

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import MySQLdb

from tests.sshd import free_port

INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


@dataclass
class MariaDBServer:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mariadb-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def data_dir(self):
        return self.root / "data"

    def url(self, name):
        return f"mysql://root@127.0.0.1:{self.port}/{name}"

    def install(self):
        shutil.chown(self.root, "mysql", "mysql")
        subprocess.run(
            [
                INSTALL_DB,
                "--user=mysql",
                f"--datadir={self.data_dir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        return self

    def start(self, timeout=30):
        log = open(self.root / "mariadbd.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                MARIADBD,
                "--no-defaults",
                "--user=mysql",
                f"--datadir={self.data_dir}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                f"--socket={self.root / 'mariadbd.sock'}",
                f"--pid-file={self.root / 'mariadbd.pid'}",
                "--skip-grant-tables",
                "--innodb-buffer-pool-size=32M",
                "--max-connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.process.log = log  # type: ignore[attr-defined]
        deadline = time.monotonic() + timeout
        while True:
            try:
                MySQLdb.connect(host="127.0.0.1", port=self.port, user="root").close()
                return self
            except MySQLdb.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.root / "mariadbd.log").read_text()[-2000:]) from None
                time.sleep(0.1)

    def kill(self):
        """SIGKILL, as a crash or a pulled plug: no clean shutdown."""
        self.process.kill()
        self.process.wait()
        self.process.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
                return
            self.process.log.close()

    def query(self, database, sql, args=()):
        connection = MySQLdb.connect(
            host="127.0.0.1", port=self.port, user="root", database=database, charset="utf8mb4"
        )
        try:
            cursor = connection.cursor()
            cursor.execute(sql, args)
            rows = cursor.fetchall()
            connection.commit()
            return rows
        finally:
            connection.close()
