"""A private redis-server on a free loopback port, for the tests that need a Redis broker
(never the machine's shared one). ``redis-server`` comes from scripts/system-deps.sh --test."""

import os
import subprocess
from pathlib import Path

import pytest
import redis

from tests.sshd import free_port
from tests.worker import wait_for

REDIS_SERVER = "/usr/bin/redis-server"


def pings(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.ConnectionError:
        return False


class RedisServer:
    """``start()`` returns the server's URL once it answers; ``stop()`` ends it."""

    def __init__(self, directory: Path):
        if not os.path.exists(REDIS_SERVER):
            pytest.fail("redis-server is missing: scripts/system-deps.sh --test installs it")
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def start(self) -> str:
        port = self.url.rsplit(":", 1)[1].split("/")[0]
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", port, "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: pings(self.url), timeout=10)
        return self.url

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
