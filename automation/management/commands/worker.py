"""``manage.py worker``: the job worker (a django-q2 cluster) with a stop that always ends."""

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, close_old_connections, connection
from django.db.migrations.executor import MigrationExecutor
from django_q.cluster import Cluster

from automation import workers
from automation.models import Job, WorkerHeartbeat
from automation.runner.sandbox import SandboxUnavailable, check
from automation.services.jobs import pid_alive

STOP_REASON = "the worker stopped"
# After the grace period and the cancels, how long the cluster may take to wind down.
WIND_DOWN_SECONDS = 20


class Command(BaseCommand):
    help = (
        "Run the job worker: a django-q2 cluster of Q_WORKERS processes that run jobs and the "
        "schedules. Refuses to start while migrations are pending. On SIGTERM or SIGINT it "
        "stops taking tasks, gives running jobs WORKER_STOP_GRACE seconds to finish, cancels "
        "the rest ('the worker stopped') and exits within a bounded time."
    )

    def handle(self, *args, **options):
        self.check_schema()
        try:
            check()
        except SandboxUnavailable as exc:
            # Housekeeping schedules still run; every job would fail at once with this reason.
            self.stderr.write(f"Warning: jobs cannot run: {exc}")
        workers.CLUSTER = f"{os.uname().nodename}:{os.getpid()}"
        signals: list[int] = []
        cluster = Cluster()
        # django-q2's own handler stops the cluster from inside the signal handler, where the
        # locks it takes can deadlock (a hang that only SIGKILL ends). Ours only records the
        # signal; the loop below does the stopping in ordinary code.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda number, frame: signals.append(number))
        cluster.start()
        while not signals and cluster.sentinel.is_alive():
            time.sleep(0.2)
        close_old_connections()
        if not signals:
            self.stop_jobs(reason="the worker's cluster died")
            raise CommandError("The cluster's sentinel died; the worker exits.")
        self.stdout.write(f"Stopping (signal {signals[0]}).")
        exit_code = self.stop(cluster)
        if exit_code:
            raise CommandError("The cluster did not stop in time; its processes were killed.")
        self.stdout.write("Stopped.")

    def check_schema(self):
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            first = plan[0][0]
            raise CommandError(
                f"The database schema is older than this release ({len(plan)} migrations not "
                f"applied, the first {first.app_label}.{first.name}): run `manage.py migrate` "
                "before starting workers."
            )

    def own_jobs(self):
        names = WorkerHeartbeat.objects.filter(cluster=workers.CLUSTER).values_list(
            "name", flat=True
        )
        return Job.objects.filter(status=Job.Status.RUNNING, worker__in=list(names))

    def stop_jobs(self, *, reason):
        """Cancel what this cluster still runs; fail at once what no process runs any more."""
        for job in self.own_jobs():
            alive = WorkerHeartbeat.objects.filter(name=job.worker).values_list("pid", flat=True)
            if alive and pid_alive(alive[0]):
                job.request_cancel(reason=reason)
            else:
                job.finish(Job.Status.FAILED, error_message=f"worker lost: {reason}")

    def stop(self, cluster) -> int:
        """Stop taking tasks, let running jobs finish within the grace, cancel the rest, and
        wait a bounded time for the cluster; 1 when it had to be killed."""
        with contextlib.suppress(DatabaseError):
            WorkerHeartbeat.objects.filter(cluster=workers.CLUSTER).update(stopping=True)
        stopper = threading.Thread(target=cluster.stop, name="cluster-stop", daemon=True)
        stopper.start()  # the pusher stops at once: no new task is taken from here on
        deadline = time.monotonic() + settings.WORKER_STOP_GRACE
        try:
            while self.own_jobs().exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            self.stop_jobs(reason=STOP_REASON)
        except DatabaseError as exc:
            self.stderr.write(f"Could not reach the database while stopping: {exc}")
        stopper.join(WIND_DOWN_SECONDS)
        code = 0
        if stopper.is_alive():
            _kill_descendants()
            code = 1
        with contextlib.suppress(DatabaseError):
            WorkerHeartbeat.objects.filter(cluster=workers.CLUSTER).delete()
        return code


def _kill_descendants():
    """SIGKILL every process below this one (the cluster's sentinel, workers, sandboxes)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    me, doomed = os.getpid(), set()
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if pid not in doomed and (parent == me or parent in doomed):
                doomed.add(pid)
                changed = True
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
