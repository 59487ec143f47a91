"""Jobs (runs of a playbook on a server) and the console lines they print."""

import uuid

from django.conf import settings
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from auditing.mixins import AuditedMixin
from auditing.models import AuditLog
from auditing.services import audit_record, jsonable
from automation.models.playbooks import Playbook
from automation.signals import job_finished


class InvalidTransition(Exception):
    """A job status change the state machine does not allow (e.g. success -> running)."""


class ConditionalTransitions:
    """The status change jobs and project syncs share: an UPDATE that applies only while the
    row is still in a status the change may start from, with its audit row
    (``changes: {field: [old, new]}``) in the same transaction. Models say which action a
    change is recorded as (``transition_audit_action``)."""

    def transition_audit_action(self, old_status, to):
        return AuditLog.Action.UPDATE

    def _apply_transition(self, sources, to, fields, audit_user):
        """Inside a transaction: True when this process made the change (the instance then
        holds it), False when another one changed the row first."""
        model = type(self)
        # The values this change overwrites, for the audit row (the instance may be stale or
        # loaded with .only()).
        before = model.objects.filter(pk=self.pk).values("status", *fields).first() or {}
        if not model.objects.filter(pk=self.pk, status__in=sources).update(status=to, **fields):
            return False
        self.status = to
        for name, value in fields.items():
            setattr(self, name, value)
        # Foreign keys as their ids, as values() read them.
        after = {
            "status": to,
            **{
                name: value.pk if isinstance(value, models.Model) else value
                for name, value in fields.items()
            },
        }
        changes = {
            name: [jsonable(before.get(name)), jsonable(value)]
            for name, value in after.items()
            if before.get(name) != value
        }
        action = self.transition_audit_action(before.get("status"), to)
        audit_record(action, self, {"changes": changes}, user=audit_user)
        return True


class Job(ConditionalTransitions, AuditedMixin, models.Model):
    """One run of a playbook against a server.

    Status moves pending -> running -> success|failed|cancelled, or pending -> cancelled|failed.
    Every change goes through ``transition`` which updates the row only if it is still in a
    state the change may start from, so two workers (or a worker and a cancel) cannot both win.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCESS, Status.FAILED, Status.CANCELLED)
    LIVE = (Status.PENDING, Status.RUNNING)
    ALLOWED = {
        Status.PENDING: {Status.RUNNING, Status.CANCELLED, Status.FAILED},
        Status.RUNNING: {Status.SUCCESS, Status.FAILED, Status.CANCELLED},
    }

    job_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    playbook = models.ForeignKey(Playbook, on_delete=models.PROTECT, related_name="jobs")
    # The one server of a single-server run (the seed's column). Empty for a run on groups, a
    # list of servers or a project inventory file: its hosts are in ``hosts`` (JobHost).
    server = models.ForeignKey(
        "inventory.Server", on_delete=models.PROTECT, related_name="jobs", null=True, blank=True
    )
    # The groups a run on groups targeted (their members at launch are in ``hosts``).
    target_groups = models.ManyToManyField(
        "inventory.ServerGroup", related_name="jobs", blank=True, db_table="job_target_groups"
    )
    # ansible-playbook --limit (validated: automation/services/targets.py) and --forks.
    limit = models.CharField(max_length=500, blank=True, default="", db_default="")
    forks = models.PositiveSmallIntegerField(null=True, blank=True)
    # A project inventory file (a path inside the job's snapshot) used with -i.
    inventory_path = models.CharField(max_length=500, blank=True, default="", db_default="")
    # What the run should not hide, e.g. ["no_hosts_matched: play 'x'"]; see callback.py.
    warnings = models.JSONField(default=list, blank=True, db_default=[])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="jobs",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # The django-q2 task id (the seed's celery_task_id).
    task_id = models.CharField(max_length=64, blank=True)
    extra_vars = models.JSONField(default=dict, blank=True)
    # A vault password the run opens inline !vault values and vault files with (--vault-id); a
    # Relaunch reuses the credential, never a copy of its value. Deleting a credential is
    # refused while a pending or running job needs it (inventory.services.credential_delete);
    # a finished job then forgets it.
    vault_credential = models.ForeignKey(
        "inventory.Credential",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="vault_jobs",
        limit_choices_to={"kind": "vault"},
    )
    check_mode = models.BooleanField(default=False)
    error_message = models.TextField(blank=True)
    rc = models.IntegerField(null=True, blank=True)
    # Per host: {"web1": {"ok": 3, "changed": 1, "failed": 0, "unreachable": 0, ...}}
    stats = models.JSONField(default=dict, blank=True)
    # sha256 of the playbook content this job ran: the version, joined to playbook history.
    playbook_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    # Set by a cancel request while running; the worker's cancel callback polls it.
    cancel_requested = models.BooleanField(default=False)
    # Line number of the first ERROR console line, kept while logs are stored ("jump to error").
    first_error_line = models.PositiveIntegerField(null=True, blank=True)
    # The worker process running the job ("host:pid:token", a WorkerHeartbeat name), for the
    # reaper.
    worker = models.CharField(max_length=255, blank=True)
    # Why a cancel was requested when it was not a person (e.g. "the worker stopped").
    # A database default too: raw INSERTs (the data generator) need not name it.
    cancel_reason = models.CharField(max_length=255, blank=True, default="", db_default="")
    # A project playbook's run: the snapshot (revision) it ran in and the playbook's path there.
    # A relaunch runs in the same snapshot; "run latest" takes the project's current one.
    project_snapshot = models.ForeignKey(
        "automation.ProjectSnapshot",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="jobs",
    )
    playbook_path = models.CharField(max_length=500, blank=True, default="", db_default="")
    relaunched_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="relaunches"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    # How jobs appear in the audit trail (auditing.mixins): named by job_id; task_id and worker
    # are plumbing between the web process and the worker, not decisions.
    audit_resource_type = "job"
    audit_id_field = "job_id"
    audit_ignored_fields = frozenset({"created_at", "task_id", "worker", "cancel_reason"})
    # The vault credential's id is no secret (the name "credential" would be masked).
    audit_unmasked_fields = frozenset({"vault_credential"})

    class Meta:
        db_table = "jobs"
        indexes = [
            models.Index(fields=["created_at"], name="idx_jobs_created_at"),
            # The jobs list filters by one of these and sorts newest first.
            models.Index(fields=["status", "created_at"], name="idx_jobs_status_created"),
            models.Index(fields=["playbook", "created_at"], name="idx_jobs_playbook_created"),
            models.Index(fields=["server", "created_at"], name="idx_jobs_server_created"),
            models.Index(fields=["user", "created_at"], name="idx_jobs_user_created"),
        ]

    def __str__(self):
        return f"{self.playbook} on {self.target_label} ({self.status})"

    def get_absolute_url(self):
        return reverse("job_detail", kwargs={"job_id": self.job_id})

    @property
    def target_label(self):
        """What the job ran on, in a few words: the server, or "N hosts"."""
        if self.server_id:
            return self.server.hostname
        return "several hosts"

    @cached_property
    def host_rows(self):
        """The per-host summary: the job's job_hosts rows (with their servers), or for a job
        from before job_hosts, rows made from its stats."""
        rows = list(self.hosts.select_related("server").order_by("hostname"))
        if rows or not self.stats:
            return rows
        return [
            JobHost(
                job=self,
                server=self.server,
                hostname=host,
                **{k: counts.get(k, 0) for k in JobHost.STATS},
            )
            for host, counts in sorted(self.stats.items())
        ]

    @property
    def matched_no_hosts(self):
        """A finished run where some play matched no host (see callback.py)."""
        return any(w.startswith("no_hosts") for w in self.warnings or [])

    def audit_create_action(self):
        return AuditLog.Action.RELAUNCH if self.relaunched_from_id else AuditLog.Action.RUN

    def audit_update_action(self, changes):
        status = changes.get("status", [None, None])[1]
        cancel_flag = changes.get("cancel_requested", [None, None])[1]
        if status == self.Status.CANCELLED or cancel_flag is True:
            return AuditLog.Action.CANCEL
        return AuditLog.Action.UPDATE

    def audit_creator(self):
        # Launching is the launcher's act, also outside a request (a command, a schedule).
        return self.user if self.user_id else None

    @property
    def queued_for(self):
        """Time between launch and start (or until now while pending)."""
        if self.status == self.Status.PENDING:
            return timezone.now() - self.created_at
        return self.started_at - self.created_at if self.started_at else None

    @property
    def is_live(self):
        return self.status in self.LIVE

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    @property
    def duration(self):
        """Run time as a timedelta (up to now while running), or None before it starts."""
        if not self.started_at:
            return None
        return (self.completed_at or timezone.now()) - self.started_at

    def transition(self, to, *, audit_user=None, **fields):
        """Move to status ``to`` and save ``fields`` with it, atomically, with its audit row.

        Raises InvalidTransition when the job's known status can never lead to ``to``. Returns
        False when another process changed the row first (the conditional UPDATE matched no
        row); the instance is then refreshed from the database.

        The audit row (``changes: {field: [old, new]}``; CANCEL for a cancel before the start,
        else UPDATE) is written in the same transaction, so every path (the worker's claim,
        its early failures and results, the reaper, a cancel) is recorded exactly when its
        change commits. ``audit_user`` is who acted (default: the audit context's user).
        """
        sources = [s for s, targets in self.ALLOWED.items() if to in targets]
        if self.status not in sources:
            raise InvalidTransition(f"job {self.job_id}: {self.status} -> {to} is not allowed")
        old_status = self.status
        with transaction.atomic():
            updated = self._apply_transition(sources, to, fields, audit_user)
            if updated and to in self.FINISHED:
                # This is the only place jobs reach a final status. Sent inside the
                # transaction, so receivers (the analytics rollups) count the run if and only
                # if its final status commits; see automation/signals.py.
                job_finished.send(sender=Job, job=self, old_status=old_status)
        if not updated:
            self.refresh_from_db()
            return False
        return True

    def transition_audit_action(self, old_status, to):
        # A cancel before the start is CANCEL; a running job's cancel was recorded when it
        # was requested (request_cancel), so its end is an UPDATE.
        cancel = to == self.Status.CANCELLED and old_status == self.Status.PENDING
        return AuditLog.Action.CANCEL if cancel else AuditLog.Action.UPDATE

    def start(self, *, worker=""):
        """Claim a pending job for a worker; False when it was already claimed or cancelled."""
        if self.status != self.Status.PENDING:
            return False
        return self.transition(self.Status.RUNNING, started_at=timezone.now(), worker=worker)

    def finish(self, status, *, rc=None, stats=None, error_message="", audit_user=None):
        """Record the end of a run (success, failed or cancelled)."""
        if status not in self.FINISHED:
            raise InvalidTransition(f"{status} is not a final status")
        return self.transition(
            status,
            audit_user=audit_user,
            rc=rc,
            stats=stats if stats is not None else self.stats,
            error_message=error_message,
            completed_at=timezone.now(),
        )

    def request_cancel(self, *, reason="", user=None):
        """Cancel: a pending job never starts; a running job is flagged for its worker.
        ``reason`` says why when it is not a person's choice, ``user`` who asked (default: the
        audit context's). Returns False when the job had already finished. Both cases write a
        CANCEL row in the transaction of their change."""
        if self.status == self.Status.PENDING and self.transition(
            self.Status.CANCELLED,
            audit_user=user,
            completed_at=timezone.now(),
            error_message=f"Cancelled before it started: {reason}."
            if reason
            else "Cancelled before it started.",
        ):
            return True
        if self.status == self.Status.RUNNING:
            with transaction.atomic():
                if not Job.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(
                    cancel_requested=True, cancel_reason=reason
                ):
                    self.refresh_from_db()
                    return False
                changes = {"cancel_requested": [False, True]}
                if reason:
                    changes["cancel_reason"] = ["", reason]
                details = {"changes": changes, "status": self.Status.RUNNING}
                audit_record(AuditLog.Action.CANCEL, self, details, user=user)
            self.cancel_requested, self.cancel_reason = True, reason
            return True
        return False


class JobHost(models.Model):
    """A host a job targeted, with its result. Written at launch with the resolved hosts (every
    job, single-server ones too) and updated with Ansible's per-host stats at the end; a host
    named only in a project inventory file gets its row when the stats name it, with no server.

    ``created_at`` is the job's, copied, so "jobs on server X, newest first" is one range of
    the (server, created_at) index without reading jobs.
    """

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="hosts")
    server = models.ForeignKey(
        "inventory.Server",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="job_hosts",
    )
    hostname = models.CharField(max_length=255)
    ok = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    unreachable = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    rescued = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    STATS = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")

    class Meta:
        db_table = "job_hosts"
        ordering = ["hostname"]
        constraints = [
            models.UniqueConstraint(fields=["job", "hostname"], name="uniq_job_hosts_host"),
        ]
        indexes = [
            # The jobs list filtered by server: newest first, one index range.
            models.Index(
                fields=["server", "created_at", "job"], name="idx_job_hosts_server_created"
            ),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.hostname}"

    @property
    def has_run(self):
        return any(getattr(self, name) for name in self.STATS)


class JobLog(models.Model):
    """One console row of a job, numbered from 1 in the order Ansible printed it.

    A line longer than a row holds (``CONSOLE_ROW_CHARS`` in automation/runner/callback.py) is
    stored as several rows with consecutive numbers: the first holds its start and its level,
    each following one is marked ``continuation``. Rows stay small enough for any server's
    packet limit, and the console pages skip continuation rows in SQL (they show a long line's
    start only); the download joins them back.
    """

    class Level(models.TextChoices):
        DEBUG = "DEBUG", "Debug"
        INFO = "INFO", "Info"
        WARNING = "WARNING", "Warning"
        ERROR = "ERROR", "Error"

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs")
    line_number = models.PositiveIntegerField()
    content = models.TextField(blank=True)
    # This row continues the line of the row before it (a long line cut into rows). A database
    # default, so adding the column to a big table is a metadata change, never a rewrite.
    continuation = models.BooleanField(default=False, db_default=False)
    log_level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    # The host the line is about (the event's host; '' for play headers, recaps, warnings).
    # A database default: adding it to a big table is a metadata change, never a rewrite.
    host = models.CharField(max_length=255, blank=True, default="", db_default="")
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "job_logs"
        constraints = [
            # Also the index the console reads by: (job, line_number) ranges.
            models.UniqueConstraint(fields=["job", "line_number"], name="uniq_job_logs_line"),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.line_number}"
