"""Job writes: launch (row + task after commit), cancel, relaunch, and the orphan reaper."""

import contextlib
import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM as OrmBroker
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from accounts.models import User
from auditing.models import AuditLog
from auditing.services import NO_USER, audit_record
from automation.models import Job, JobHost, Playbook, ProjectSnapshot, WorkerHeartbeat
from automation.runner import sandbox
from automation.services import targets
from inventory.models import Credential, Server, ServerGroup

# Extra-var keys that decide where and how Ansible connects (ansible_connection=local would
# run on the controller): only admins may set them.
RESERVED_PREFIX = "ansible_"
REAP_GRACE = timedelta(minutes=5)
# A job starts within a second of its launch when a worker is free, and a task waiting for one
# stays visible in the broker. A pending job older than this whose task the broker no longer
# holds was lost (a broker restarted without persistence, a worker killed holding it).
PENDING_REQUEUE_AFTER = timedelta(minutes=10)
REQUEUED = "requeued"  # the audit detail that marks a job's one re-queue


class NotQueued(ValidationError):
    """The broker refused the job's task at launch. The job was recorded as failed ("could not
    be queued: ...") and audited; the message tells the launcher what happened."""


# Nesting allowed in extra vars. MariaDB refuses JSON deeper than 32 levels, and the audit row
# stores the extra vars two or three levels down (details.fields.extra_vars, or
# details.changes.extra_vars.new), so keep a wide margin below it.
EXTRA_VARS_MAX_DEPTH = 20
# Digits in one integer. Python refuses to parse or print more than 4,300 (a ValueError), and no
# real variable needs a hundred: a long serial number belongs in a string.
EXTRA_VARS_MAX_DIGITS = 100


def _refuse_constant(name):
    raise ValidationError(f"Extra vars cannot hold {name}: JSON has no such number.")


def _too_many_digits(digits):
    return ValidationError(
        f"Extra vars hold a number of about {digits:,} digits; the limit is "
        f"{EXTRA_VARS_MAX_DIGITS}. Quote it to pass it as a string."
    )


def _parse_int(text):
    if (digits := len(text.lstrip("-"))) > EXTRA_VARS_MAX_DIGITS:
        raise _too_many_digits(digits)
    return int(text)


def _parse_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValidationError(f"Extra vars hold the number {text[:40]}, too large for JSON.")
    return value


def parse_extra_vars(text: str | None, *, user: User) -> dict[str, Any]:
    """A JSON object from ``text`` ('' means {}); ValidationError with a clear message.
    Parsing refuses what the standard library would let through but the database or Ansible
    would not (NaN, Infinity, 1e999, huge integers); the value then goes through
    ``validate_extra_vars`` like any programmatic caller's."""
    text = (text or "").strip()
    if len(text.encode("utf-8", "surrogatepass")) > settings.EXTRA_VARS_MAX_BYTES:
        raise ValidationError(f"Extra vars are limited to {settings.EXTRA_VARS_MAX_BYTES:,} bytes.")
    if not text:
        return {}
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"Extra vars are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    except RecursionError as exc:
        # Thousands of nested brackets exhaust the parser's stack before any depth check.
        raise _too_deep() from exc
    return validate_extra_vars(value, user=user)


def _too_deep():
    return ValidationError(
        f"Extra vars are nested too deeply: at most {EXTRA_VARS_MAX_DEPTH} levels of objects "
        "and lists."
    )


def validate_extra_vars(extra_vars: Any, *, user: User) -> dict[str, Any]:
    """``extra_vars`` checked for the form and for programmatic callers alike: a dict (None
    means {}), at most EXTRA_VARS_MAX_DEPTH levels deep, only finite numbers of bounded size,
    text that is valid Unicode (a lone surrogate such as "\\ud800" cannot be stored as
    UTF-8), no larger than EXTRA_VARS_MAX_BYTES as JSON, and reserved keys only for admins.
    Returns the value; raises ValidationError with a message a person can act on."""
    if extra_vars is None:
        extra_vars = {}
    if not isinstance(extra_vars, dict):
        raise ValidationError('Extra vars must be a JSON object, like {"version": "1.2"}.')
    # Iterative walk: a recursive one would hit the same stack limit the parser does.
    stack = [(extra_vars, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth > EXTRA_VARS_MAX_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(value, dict):
                    _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise ValidationError(f"Extra vars cannot hold {value}: JSON has no such number.")
        elif isinstance(value, int) and not isinstance(value, bool):
            # Estimated from the bits first: str() itself fails past 4,300 digits.
            digits = int(value.bit_length() * math.log10(2)) + 1
            if digits <= EXTRA_VARS_MAX_DIGITS + 1:
                digits = len(str(abs(value)))
            if digits > EXTRA_VARS_MAX_DIGITS:
                raise _too_many_digits(digits)
        elif value is not None and not isinstance(value, bool):
            raise ValidationError(
                f"Extra vars can only hold JSON values, not {type(value).__name__}."
            )
    size = len(json.dumps(extra_vars, ensure_ascii=False).encode("utf-8"))
    if size > settings.EXTRA_VARS_MAX_BYTES:
        raise ValidationError(f"Extra vars are limited to {settings.EXTRA_VARS_MAX_BYTES:,} bytes.")
    check_reserved_keys(extra_vars, user=user)
    return extra_vars


def _check_text(value):
    if not isinstance(value, str):
        raise ValidationError(f"Extra vars keys are text, not {type(value).__name__}.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"Extra vars hold invalid Unicode (a lone surrogate, {value[exc.start]!r} at "
            f"position {exc.start + 1} of a string): it cannot be stored as UTF-8."
        ) from exc


def check_reserved_keys(extra_vars: dict[str, Any], *, user: User) -> None:
    reserved = sorted(k for k in extra_vars if str(k).lower().startswith(RESERVED_PREFIX))
    if reserved and not user.is_admin:
        raise ValidationError(
            f"Only admins may set {', '.join(reserved)}: keys starting with 'ansible_' change "
            "where or how Ansible connects."
        )


def may_run_locally(user: User) -> bool:
    """A local server runs the playbook on the controller: inside the sandbox, where it reaches
    nothing of the app, any role may; with the sandbox off, only a super_admin."""
    return sandbox.enabled() or user.is_super_admin


def job_launch(
    *,
    playbook: Playbook,
    user: User,
    server: Server | None = None,
    servers: Iterable[Server] = (),
    groups: Iterable[ServerGroup] = (),
    limit: str = "",
    forks: int | None = None,
    inventory_path: str = "",
    extra_vars: dict[str, Any] | None = None,
    check_mode: bool = False,
    relaunched_from: Job | None = None,
    snapshot: ProjectSnapshot | None = None,
    vault_credential: Credential | None = None,
) -> Job:
    """Create a pending job and enqueue its run once the row is committed. A project
    playbook runs in ``snapshot`` (a relaunch's) or else its project's current one.
    ``vault_credential`` (a stored vault password) opens the vault values the playbook uses.

    The target is one ``server`` (kept in ``jobs.server_id``), or ``groups`` and/or a list of
    ``servers``, and/or a project ``inventory_path``; ``limit`` narrows it (ansible's --limit)
    and ``forks`` sets parallelism. Every resolved host gets a ``job_hosts`` row in the same
    transaction as the job: nothing is half-written."""
    if not playbook.is_active:
        raise ValidationError(f"Playbook {playbook.name} is deleted and cannot run.")
    if playbook.in_project:
        snapshot = _snapshot_for(playbook, snapshot)
    groups = list(groups)
    hosts = targets.resolve_hosts(server=server, servers=servers, groups=groups)
    inventory_path = targets.validate_inventory_path(
        inventory_path, snapshot=snapshot if playbook.in_project else None
    )
    if inventory_path and not may_run_locally(user):
        raise ValidationError(
            "Only a super admin can run with a project inventory file while the sandbox is off: "
            "the file may name hosts that run on the controller."
        )
    if not hosts and not inventory_path:
        raise ValidationError("Choose a target: a server, one or more groups, or servers.")
    for host in hosts:
        if host.is_local and not may_run_locally(user):
            raise ValidationError(
                f"Only a super admin can run jobs on {host.hostname}: it runs on the controller "
                "and the sandbox is off."
            )
    limit = targets.validate_limit(limit)
    forks = targets.validate_forks(forks)
    extra_vars = validate_extra_vars(extra_vars, user=user)
    if vault_credential is not None and vault_credential.kind != Credential.Kind.VAULT:
        raise ValidationError(f"Credential {vault_credential.name} is not a vault password.")
    single = hosts[0] if len(hosts) == 1 and not groups and not inventory_path else None
    with transaction.atomic():
        targets.check_overlap(playbook, hosts)
        job = Job.objects.create(
            vault_credential=vault_credential,
            playbook=playbook,
            server=single,
            user=user,
            extra_vars=extra_vars,
            check_mode=check_mode,
            relaunched_from=relaunched_from,
            project_snapshot=snapshot if playbook.in_project else None,
            playbook_path=playbook.path if playbook.in_project else "",
            limit=limit,
            forks=forks,
            inventory_path=inventory_path,
        )
        if groups:
            job.target_groups.set(groups)
        JobHost.objects.bulk_create(
            JobHost(job=job, server=host, hostname=host.hostname, created_at=job.created_at)
            for host in hosts
        )
        transaction.on_commit(lambda: _enqueue(job))
    return job


def _snapshot_for(playbook: Playbook, snapshot: ProjectSnapshot | None) -> ProjectSnapshot:
    """The snapshot a project playbook runs in, checked: on disk, holding the playbook."""
    project = playbook.project
    assert project is not None  # a project playbook
    if not project.is_active:
        raise ValidationError(f"Project {project.name} is deleted; its playbooks cannot run.")
    snapshot = snapshot or project.current_snapshot
    if snapshot is None:
        raise ValidationError(
            f"Project {project.name} has no synced revision yet: sync it, then launch."
        )
    if not snapshot.on_disk:
        raise ValidationError(
            f"Revision {snapshot.short_revision} of project {project.name} is no longer on disk "
            "(pruned). Run the latest revision instead, or sync that revision again."
        )
    if playbook.path not in snapshot.playbooks:
        raise ValidationError(
            f"Revision {snapshot.short_revision} of project {project.name} has no playbook "
            f"{playbook.path}."
        )
    return snapshot


def _enqueue(job: Job) -> None:
    """Hand the job to the broker (after commit). When the broker refuses (Redis down, say),
    the job is failed with "could not be queued: ..." and audited, and NotQueued tells the
    launcher: a pending job without a task would wait forever. If even that write fails, the
    row stays pending and jobs_requeue_stale_pending picks it up later."""
    try:
        task_id = send_task(job)
    except Exception as exc:
        reason = _broker_problem(exc)
        message = f"could not be queued: {reason}"
        with contextlib.suppress(DatabaseError):  # it stays pending for the stale sweep
            job.finish(Job.Status.FAILED, error_message=message)  # audited by the transition
        raise NotQueued(
            f"The job could not be queued, so it will not run: {reason}. It is recorded as "
            f"failed (job {job.job_id}); launch it again once the task queue is back."
        ) from exc
    Job.objects.filter(pk=job.pk).update(task_id=task_id)
    job.task_id = task_id


def send_task(job: Job, *, suffix: str = "") -> str:
    task_id = async_task(
        "automation.tasks.run_job", job.pk, task_name=f"job-{job.job_id}{suffix}", group="jobs"
    )
    return task_id or ""


def _broker_problem(exc: Exception) -> str:
    """The broker's complaint in one line (a Redis error names host and port, never a
    password)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"the task broker did not answer ({text[:300]})"


def job_cancel(*, job: Job, user: User) -> bool:
    """Cancel ``job`` for its owner or an admin; False when it had already finished.
    Audited here: the cancel is a conditional QuerySet.update, which sends no signal."""
    if not (user.is_admin or job.user_id == user.pk):
        raise PermissionDenied
    return job.request_cancel(user=user)  # writes the CANCEL row with its change


def job_relaunch(*, job: Job, user: User, latest: bool = False) -> Job:
    """A new job with the same playbook, target, extra vars and check mode; a project
    playbook runs at the same revision, or at the project's current one when ``latest``.
    A run on groups runs on their members of now; a list of servers on the same servers."""
    groups = list(job.target_groups.all())
    listed = (
        []
        if job.server_id or groups
        else list(Server.objects.filter(job_hosts__job=job).order_by("hostname"))
    )
    return job_launch(
        playbook=job.playbook,
        server=job.server,
        servers=listed,
        groups=groups,
        limit=job.limit,
        forks=job.forks,
        inventory_path=job.inventory_path,
        user=user,
        extra_vars=job.extra_vars,
        check_mode=job.check_mode,
        relaunched_from=job,
        snapshot=None if latest else job.project_snapshot,
        vault_credential=job.vault_credential,  # the credential itself, never a copy
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lost_reason(job: Job | Any, alive: set[str], host: str, deadline: datetime) -> str:
    """Why ``job`` (or a project sync) has no live worker ('' when it may still have one)."""
    parts = job.worker.split(":")
    if len(parts) == 3 and parts[0] == host and parts[1].isdigit() and not pid_alive(int(parts[1])):
        # On this machine a dead process is certain at once; elsewhere, silence decides.
        return f"its worker process ({job.worker}) is gone"
    if len(parts) == 3 and job.worker not in alive:
        return (
            f"its worker ({job.worker}) has not reported for over "
            f"{settings.WORKER_LOST_SECONDS:g} s"
        )
    if len(parts) == 2 and parts[0] == host and parts[1].isdigit() and not pid_alive(int(parts[1])):
        return "its worker process is gone"  # a worker of a release without heartbeats
    if job.started_at is not None and job.started_at < deadline:
        return f"no result after {settings.JOB_TIMEOUT} s"
    return ""


def lost_runs(running: list[Any], *, now: datetime) -> list[tuple[Any, str]]:
    """The runs among ``running`` (jobs or project syncs, status running) that have no live
    worker, each with why: silent for WORKER_LOST_SECONDS, a dead process on this host, or
    past JOB_TIMEOUT + grace."""
    deadline = now - timedelta(seconds=settings.JOB_TIMEOUT) - REAP_GRACE
    seen_since = now - timedelta(seconds=settings.WORKER_LOST_SECONDS)
    alive = set(
        WorkerHeartbeat.objects.filter(
            name__in={run.worker for run in running}, last_seen__gte=seen_since
        ).values_list("name", flat=True)
    )
    host = socket.gethostname()
    found = [(run, lost_reason(run, alive, host, deadline)) for run in running]
    return [(run, reason) for run, reason in found if reason]


def job_directories(job: Job) -> list[Path]:
    """The job's private data directories on this machine (the runner makes one per run)."""
    return sorted(Path(tempfile.gettempdir()).glob(f"job-{job.job_id}-*"))


def jobs_reap(*, now: datetime | None = None) -> list[Job]:
    """Fail jobs left running by a worker that is gone: silent for WORKER_LOST_SECONDS
    (whatever host or container it ran on), or running past JOB_TIMEOUT + grace. Their data
    directories on this machine go with them; their sandboxes died with their worker. Returns
    the reaped jobs."""
    now = now or timezone.now()
    running = list(
        Job.objects.filter(status=Job.Status.RUNNING).only(
            "id", "job_id", "status", "worker", "started_at", "stats"
        )
    )
    reaped = []
    for job, reason in lost_runs(running, now=now):
        # The transition writes the UPDATE row (the system's: no user).
        if job.finish(
            Job.Status.FAILED, error_message=f"worker lost: {reason}", audit_user=NO_USER
        ):
            for directory in job_directories(job):
                shutil.rmtree(directory, ignore_errors=True)
            reaped.append(job)
    # Rows of workers gone for a day are history nobody reads.
    WorkerHeartbeat.objects.filter(last_seen__lt=now - timedelta(days=1)).delete()
    return reaped


def _queued_task_ids() -> set[str] | None:
    """Ids of the tasks the broker holds (waiting, or taken and not yet acknowledged); None
    when it cannot tell (an unknown broker type, or the broker does not answer)."""
    broker = get_broker()
    try:
        if isinstance(broker, OrmBroker):
            packs = list(
                broker.get_connection()
                .filter(key=broker.list_key)
                .values_list("payload", flat=True)
            )
        elif isinstance(broker, RedisBroker):
            packs = broker.connection.lrange(broker.list_key, 0, -1)
        else:
            return None
    except Exception:  # a broker that does not answer cannot say what it holds
        return None
    ids = set()
    for pack in packs:
        # A payload that does not decode (another signing key, another format) is not ours.
        with contextlib.suppress(Exception):
            ids.add(SignedPackage.loads(pack)["id"])
    return ids


def jobs_requeue_stale_pending(*, now: datetime | None = None) -> list[tuple[Job, str]]:
    """Pending jobs whose task is gone: launched more than PENDING_REQUEUE_AFTER ago, never
    claimed, and not (or no longer) held by the broker. Each is re-queued once (a second
    delivery is harmless: the claim in run_job lets only one run). One already re-queued is
    failed with a message when its second task is gone too, JOB_TIMEOUT + REAP_GRACE after the
    re-queue (a task a worker took from Redis is no longer in the broker while it waits behind
    a running job: only then is it surely lost). Both are audited. Returns (job, what was done)
    pairs; nothing is done while the broker cannot be read."""
    now = now or timezone.now()
    stale = list(
        Job.objects.filter(
            status=Job.Status.PENDING, created_at__lt=now - PENDING_REQUEUE_AFTER
        ).only("id", "job_id", "status", "task_id", "created_at", "user", "stats")
    )
    if not stale:
        return []
    queued = _queued_task_ids()
    if queued is None:
        return []
    requeues = {
        row.resource_id: row.timestamp
        for row in AuditLog.objects.filter(
            resource_type="job",
            resource_id__in=[str(job.job_id) for job in stale],
            details__has_key=REQUEUED,
        )
    }
    done = []
    for job in stale:
        if job.task_id and job.task_id in queued:
            continue  # still waiting its turn
        requeued_at = requeues.get(str(job.job_id))
        if requeued_at is None:
            done.append((job, _requeue(job)))
        elif requeued_at < now - timedelta(seconds=settings.JOB_TIMEOUT) - REAP_GRACE:
            message = (
                "never started: its task was lost by the task queue, and again after it was "
                f"re-queued at {requeued_at:%Y-%m-%d %H:%M:%S %Z}. Launch it again."
            )
            # The transition writes the audit row, with no user: the system decided.
            if job.finish(Job.Status.FAILED, error_message=message, audit_user=NO_USER):
                done.append((job, f"failed: {message}"))
    return done


def _requeue(job: Job) -> str:
    try:
        task_id = send_task(job, suffix="-requeued")
    except Exception as exc:
        return f"not re-queued: {_broker_problem(exc)}"
    # Only while still pending: a claim that happened meanwhile keeps its own task id.
    Job.objects.filter(pk=job.pk, status=Job.Status.PENDING).update(task_id=task_id)
    audit_record(
        AuditLog.Action.UPDATE,
        job,
        {
            "changes": {"task_id": [job.task_id, task_id]},
            REQUEUED: "its task was no longer in the queue",
        },
        user=NO_USER,
    )
    job.task_id = task_id
    return f"re-queued as task {task_id}"
