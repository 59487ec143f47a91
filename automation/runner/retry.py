"""Database faults while a job runs: a restart, a dropped connection, a server gone away.

The worker must never leave a job ``running`` because the database failed for a moment, and
must never let ansible-runner see an exception from its callbacks (it turns one into a
CallbackError and the run's end is lost). So every write of a run goes through here: a failed
statement drops the connection (the next query opens a new one) and is tried again with a
growing pause. ``Outage`` measures how long the database has been failing, which decides when
a run gives up waiting (``JOB_DB_RETRY_SECONDS``).
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

# What a lost or restarting server raises (Django wraps the driver's errors in these): worth
# retrying on a new connection. Anything else (a bug, a constraint) is not retried.
DB_ERRORS = (OperationalError, InterfaceError)
FIRST_PAUSE = 0.1
LONGEST_PAUSE = 2.0

T = TypeVar("T")
log = logging.getLogger(__name__)


def reconnect() -> None:
    """Drop this thread's connection: the next query opens a new one."""
    try:
        connection.close()
    except Exception:  # closing a connection the server already dropped may fail too
        connection.connection = None


class Outage:
    """How long the database has been failing, for one run."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.pause = FIRST_PAUSE
        self.next_try = 0.0

    @property
    def seconds(self) -> float:
        return 0.0 if self.since is None else time.monotonic() - self.since

    def failed(self, exc: Exception) -> None:
        reconnect()
        now = time.monotonic()
        if self.since is None:
            log.warning("Database unavailable during a run, retrying: %s", exc)
            self.since, self.pause = now, FIRST_PAUSE
        else:
            self.pause = min(self.pause * 2, LONGEST_PAUSE)
        self.next_try = now + self.pause

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("Database back after %.1f s", self.seconds)
        self.since = None

    def may_try(self) -> bool:
        """False while waiting out the pause after a failure (no hammering a dead server)."""
        return self.since is None or time.monotonic() >= self.next_try

    def attempt(self, action: Callable[[], T]) -> tuple[bool, T | None]:
        """``(True, action())``, or ``(False, None)`` when the database failed."""
        try:
            result = action()
        except DB_ERRORS as exc:
            self.failed(exc)
            return False, None
        self.recovered()
        return True, result

    def retry(self, action: Callable[[], T], *, seconds: float) -> T:
        """``action()`` until it succeeds, pausing and reconnecting between tries; after
        ``seconds`` the last database error is raised."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                result = action()
            except DB_ERRORS as exc:
                self.failed(exc)
                if self.next_try > deadline:
                    raise
                time.sleep(self.pause)
                continue
            self.recovered()
            return result
