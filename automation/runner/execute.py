"""Run one job with ansible-runner: prepare its directory, run the playbook in the sandbox, record
the result.

ansible-playbook runs inside the sandbox (automation/runner/sandbox.py): the runner builds the
command, then it is wrapped in bubblewrap and started with a clean environment. The job's
directory (automation/runner/prepare.py) holds all the run may see of the app. While it runs,
the handlers in automation/runner/callback.py store console lines and watch for a cancel.

Only the worker imports this module (through automation.tasks): it loads ansible-runner, which
the web process never needs.
"""

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from ansible_runner.interface import init_runner
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from auditing.models import AuditLog
from auditing.services import audit_record
from automation import storage
from automation.models import Job, JobHost, JobLog
from automation.runner import credentials as run_credentials
from automation.runner import sandbox, sources
from automation.runner.callback import (
    LogWriter,
    RunState,
    on_event,
    should_cancel,
    stop_now,
    strip_ansi,
)
from automation.runner.prepare import environment, job_ssh_dirs, prepare, project_playbook
from automation.runner.retry import DB_ERRORS
from automation.runner.stream import console_stream
from inventory.models import Server
from inventory.ssh import host_entry, known_hosts_adopt

PROMPT_MESSAGE = (
    "This playbook asks for input (vars_prompt or pause), which a job cannot answer: the run "
    "was stopped at the prompt. Pass the value as an extra var instead."
)
DATABASE_LOST_MESSAGE = (
    "database unavailable for {seconds:.0f} s during the run: the playbook was stopped"
)
# The end of a run waits for the database up to the task's own limit (Q_CLUSTER timeout is
# JOB_TIMEOUT + 120 s): past it django-q would kill the worker, and the reaper takes over.
END_WAIT_AFTER_TIMEOUT = timedelta(seconds=60)
# What ansible-playbook says when the inventory and --limit leave no host at all.
NO_HOSTS_TO_TARGET = "leaves us with no hosts to target"
STAT_KEYS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
    "rescued": "rescued",
    "ignored": "ignored",
}


def _confine(runner, root, snapshot=None):
    """Put the command the runner built into the sandbox, with a clean environment, and give
    the job's directory to the account it runs as. A project's snapshot is mounted read-only."""
    config = runner.config
    config.command = sandbox.wrap(
        config.command,
        workdir=root,
        cwd=Path(config.cwd),
        readonly=[snapshot] if snapshot else (),
    )
    config.env = sandbox.environment(config.env, workdir=root)
    # The runner creates these as the worker on start; the event callback inside the sandbox
    # writes into job_events, so they must exist and belong to the run-as account first.
    (Path(config.artifact_dir) / "job_events").mkdir(parents=True, exist_ok=True)
    sandbox.hand_over(root)


def execute(job):
    """Run ``job`` (already claimed: status running) to its end and record the result.

    Every way out ends the job: its lines are written and its status recorded, retried while
    the database is away (``_record_end``), and ansible-playbook is stopped on any failure."""
    root = Path(tempfile.mkdtemp(prefix=f"job-{job.job_id}-"))
    state = RunState()
    writer = LogWriter(job, state)
    ending = False
    try:
        try:
            sandbox.check()
            content = prepare(job, root)
            run = run_credentials.for_run(root)
            vault = run_credentials.vault_args(job, root, run)
            writer.mask = run.masker()
        except (ValidationError, sandbox.SandboxUnavailable) as exc:
            reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            writer.write(f"ERROR! Cannot prepare the run: {reason}")
            _record_end(job, writer, Job.Status.FAILED, error_message=f"Cannot run: {reason}")
            return job
        _audit_use(job, run)
        job.playbook_sha256 = storage.sha256_text(content)  # the instance too: finish() reads it
        writer.outage.retry(
            lambda: Job.objects.filter(pk=job.pk).update(playbook_sha256=job.playbook_sha256),
            seconds=settings.JOB_DB_RETRY_SECONDS,
        )
        snapshot, playbook, envvars = None, "playbook.yml", environment(root)
        if job.project_snapshot_id:
            # As `ansible-playbook <path>` run from the root of the checkout: the project's
            # ansible.cfg, roles, collections and plugin folders apply.
            snapshot, playbook = project_playbook(job)
            envvars |= sources.run_environment(snapshot)
        inventories = [str(root / "inventory" / "hosts.yml")]
        if job.inventory_path:
            # The project's own inventory file, read by Ansible inside the sandbox, where
            # the snapshot is mounted read-only.
            inventories.append(str(snapshot / job.inventory_path))
        runner = init_runner(
            private_data_dir=str(root),
            project_dir=str(snapshot) if snapshot else None,
            playbook=playbook,
            inventory=inventories if len(inventories) > 1 else inventories[0],
            # Passed as arguments of their own (--limit, --forks): never through a shell.
            limit=job.limit or None,
            forks=job.forks or None,
            envvars=envvars,
            cmdline=" ".join(filter(None, ["--check --diff" if job.check_mode else "", vault]))
            or None,
            event_handler=lambda event: on_event(event, writer, state),
            cancel_callback=lambda: should_cancel(job, writer, state),
            settings={
                "pexpect_timeout": 0.5,
                "job_timeout": settings.JOB_TIMEOUT,
                "suppress_ansible_output": True,
                "suppress_output_file": True,
            },
            quiet=True,
        )
        _confine(runner, root, snapshot)
        with console_stream(writer, Path(runner.config.artifact_dir) / "job_events"):
            runner.run()
        status, fields = _result(job, runner, writer, state)
        ending = True
        _record_end(job, writer, status, **fields)
    except Exception as exc:  # never leave a job running because of our own failure
        stop_now(state)
        if not (ending and isinstance(exc, DB_ERRORS)):  # else: waited for the database already
            message = f"Internal error while running: {exc}"
            _record_end(job, writer, Job.Status.FAILED, error_message=message)
        raise
    finally:
        run_credentials.forget(root)
        for server, learned in job_ssh_dirs(job, root):
            _adopt_host_keys(server, learned)
        shutil.rmtree(root, ignore_errors=True)
    return job


def _audit_use(job, run):
    """One USE row per stored credential the run was given, naming the job (never a value)."""
    where = {"server": job.server.hostname} if job.server_id else {}
    for credential in run.used.values():
        audit_record(
            AuditLog.Action.USE,
            credential,
            {"job": str(job.job_id), **where, "kind": credential.kind},
        )


def _adopt_host_keys(server, learned):
    """Host keys Ansible met for the first time during the run join the shared known_hosts
    (trust on first use, as the metrics collector does); a key already there never changes."""
    if server.is_local or not learned.is_file():
        return
    hosts = {host_entry(server.ip_address, server.ssh_port)}
    try:
        known_hosts_adopt(learned, hosts)
    except Exception:  # a bad line the run wrote must not turn a finished job into an error
        logging.getLogger(__name__).exception("Could not adopt host keys from job %s", server)


def host_stats(runner_stats):
    """ansible-runner's stats {ok: {host: n}, ...} as {host: {ok: n, changed: n, ...}}."""
    hosts = {}
    for key, label in STAT_KEYS.items():
        for host, count in (runner_stats or {}).get(key, {}).items():
            hosts.setdefault(host, dict.fromkeys(STAT_KEYS.values(), 0))[label] = count
    return hosts


def record_host_stats(job, stats):
    """Ansible's per-host counts into the job's job_hosts rows. A host the launch did not
    name (one of a project inventory file) gets a row of its own: linked to the server of
    that hostname when there is one, else with no server ("not in the inventory")."""
    rows = {row.hostname: row for row in JobHost.objects.filter(job=job)}
    unknown = set(stats) - set(rows)
    servers = (
        dict(Server.objects.filter(hostname__in=unknown).values_list("hostname", "pk"))
        if unknown
        else {}
    )
    changed, created = [], []
    for hostname, counts in stats.items():
        row = rows.get(hostname)
        if row is None:
            row = JobHost(
                job=job,
                server_id=servers.get(hostname),
                hostname=hostname[:255],
                created_at=job.created_at,
            )
            created.append(row)
        else:
            changed.append(row)
        for name in JobHost.STATS:
            setattr(row, name, counts.get(name, 0))
    if changed:
        JobHost.objects.bulk_update(changed, list(JobHost.STATS))
    if created:
        JobHost.objects.bulk_create(created)


def _result(job, runner, writer, state):
    """How the run ended: (status, fields for ``Job.finish``)."""
    stats = host_stats(runner.stats)
    rc = runner.rc
    if state.database_lost_since is not None:
        # The message is written once the database answers: see _record_end.
        return Job.Status.FAILED, {"rc": rc, "stats": stats, "error_message": None}
    cancel_requested, reason = _cancel_request(job, writer)
    if state.prompt_refused:
        status, message = Job.Status.FAILED, PROMPT_MESSAGE
    elif runner.status == "canceled" or cancel_requested:
        status = Job.Status.CANCELLED
        message = f"Cancelled: {reason}." if reason else "Cancelled while running."
    elif runner.status == "timeout":
        status, message = Job.Status.FAILED, f"timed out after {settings.JOB_TIMEOUT} s"
    elif runner.status == "successful" and rc == 0 and state.no_hosts_matched and not stats:
        status = Job.Status.FAILED
        message = (
            "No hosts matched: "
            + "; ".join(state.no_hosts_matched)
            + ". Nothing ran. Check the play's hosts: pattern against the job's target and limit."
        )
    elif runner.status == "successful" and rc == 0:
        status, message = Job.Status.SUCCESS, ""
    else:
        status = Job.Status.FAILED
        message = state.first_failure or None  # None: the last ERROR line, read at the end
    return status, {"rc": rc, "stats": stats, "error_message": message}


def _cancel_request(job, writer):
    """(requested, reason) of the job's cancel: one requested in the run's last moments counts;
    while the database is away, the cancel callback's last answer does. ``reason`` is set when
    the cancel was not a person's (e.g. "the worker stopped")."""
    _, row = writer.outage.attempt(
        lambda: Job.objects.filter(pk=job.pk)
        .values_list("cancel_requested", "cancel_reason")
        .first()
    )
    return (bool(row[0]), row[1] or "") if row else (False, "")


def _record_end(job, writer, status, *, rc=None, stats=None, error_message=""):
    """Write the remaining lines, then finish the job and record it in the audit log, as one
    transaction. While the database is away this is retried (new connection, growing pause)
    until it answers or the task's own time is nearly up; after a failure whose outcome is
    unknown, a job found finished already is left as it is."""
    lost_since = writer.state.database_lost_since

    def record():
        writer.flush()
        job.refresh_from_db(fields=["status", "first_error_line", "stats"])
        if job.status != Job.Status.RUNNING:
            return
        message = error_message
        if message:
            message = writer.mask(message)
        if lost_since is not None:
            message = DATABASE_LOST_MESSAGE.format(seconds=time.monotonic() - lost_since)
        elif message is None:
            message = _last_error_line(job) or f"ansible-playbook exited with code {rc}"
            if job.limit and NO_HOSTS_TO_TARGET in message:
                message = (
                    f"The limit '{job.limit}' matches none of the job's hosts: nothing ran. "
                    f"({message})"
                )
        with transaction.atomic():
            if stats:
                record_host_stats(job, stats)
            if writer.state.no_hosts_matched:
                warnings = [f"no_hosts_matched: {play}" for play in writer.state.no_hosts_matched]
                Job.objects.filter(pk=job.pk).update(warnings=warnings)
                job.warnings = warnings
            # finish() writes the audit row in its transaction (the worker's audit_context
            # names the user who launched the job).
            job.finish(status, rc=rc, stats=stats, error_message=message)

    limit = (job.started_at or timezone.now()) + timedelta(seconds=settings.JOB_TIMEOUT)
    seconds = (limit + END_WAIT_AFTER_TIMEOUT - timezone.now()).total_seconds()
    writer.outage.retry(record, seconds=max(seconds, settings.JOB_DB_RETRY_SECONDS))


def _last_error_line(job):
    line = (
        JobLog.objects.filter(job=job, log_level=JobLog.Level.ERROR)
        .order_by("-line_number")
        .values_list("content", flat=True)
        .first()
    )
    return strip_ansi(line).strip()[:2000] if line else ""
