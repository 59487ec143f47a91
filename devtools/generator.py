"""A realistic large data set for benchmarks: a year of jobs, their console lines, versions,
metrics and audit rows, inserted in batches with raw multi-row INSERTs.

Rows are built as tuples and sent with ``cursor.executemany`` (mysqlclient folds an INSERT's
executemany into one multi-row statement), a chunk at a time so memory stays flat. Values go
through each field's ``get_db_prep_value`` so UUIDs, datetimes and JSON are stored exactly as
the ORM would store them on any backend.
"""

import bisect
import math
import random
import time
import uuid
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from auditing.models import AuditLog
from automation.models import Job, JobLog, PlaybookVersion
from automation.services.playbooks import playbook_create
from automation.storage import sha256_text
from core.db import insert_sql
from inventory.models import Server, ServerMetric

STATUS_WEIGHTS = [("success", 85), ("failed", 10), ("cancelled", 3)]
AUDIT_ACTIONS = [
    ("LOGIN", 30),
    ("RUN", 25),
    ("UPDATE", 15),
    ("LOGOUT", 10),
    ("CREATE", 6),
    ("LOGIN_FAILED", 5),
    ("CANCEL", 3),
    ("DELETE", 2),
    ("RELAUNCH", 2),
    ("PASSWORD_CHANGE", 1),
    ("PURGE", 1),
]
# Relative job volume per hour of the day (UTC) and per weekday (Mon..Sun).
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 8, 10, 12, 12, 10, 8, 5, 3, 2, 2, 1, 1]
WEEKDAY_WEIGHTS = [10, 11, 11, 10, 8, 2, 1]
FAILURES = [
    "Task 'Install packages' failed on host {host}: No package matching 'nginx-extras' found",
    "Host {host} unreachable: Failed to connect to the host via ssh: Connection timed out",
    "Task 'Restart service' failed on host {host}: Unable to restart service app: Job failed",
    "Task 'Check disk' failed on host {host}: disk usage 97% exceeds 90%",
    "timed out after 3600 s",
]
MARKER = "generated-by-generate_data"


def insert(model, columns, rows):
    """INSERT ``rows`` (tuples of Python values in ``columns`` order) into ``model``'s table."""
    if not rows:
        return 0
    fields = [model._meta.get_field(name) for name in columns]
    sql = insert_sql(model, columns)
    prepared = [
        tuple(
            f.get_db_prep_value(v, connection) if v is not None else None
            for f, v in zip(fields, row, strict=True)
        )
        for row in rows
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, prepared)
    return len(rows)


def weighted(rng, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


class Generator:
    def __init__(
        self,
        *,
        servers,
        playbooks,
        jobs,
        log_lines,
        audit,
        metrics_per_server,
        playbook_versions,
        seed,
        batch_size,
        out,
    ):
        self.counts = dict(
            servers=servers, playbooks=playbooks, jobs=jobs, log_lines=log_lines, audit=audit
        )
        self.metrics_per_server = metrics_per_server
        self.versions = playbook_versions
        self.rng = random.Random(seed)
        self.batch = batch_size
        self.out = out
        self.now = timezone.now()
        self.start = self.now - timedelta(days=365)

    # -- helpers ---------------------------------------------------------------------------
    def progress(self, label, done, total, started):
        rate = done / max(time.monotonic() - started, 1e-6)
        self.out(f"  {label}: {done:,}/{total:,} ({rate:,.0f} rows/s)")

    def moment(self):
        """A time in the last year, shaped by weekday and hour-of-day peaks."""
        while True:
            day = self.start + timedelta(days=self.rng.randrange(365))
            if self.rng.random() * 11 < WEEKDAY_WEIGHTS[day.weekday()]:
                break
        hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return day.replace(
            hour=hour,
            minute=self.rng.randrange(60),
            second=self.rng.randrange(60),
            microsecond=self.rng.randrange(1_000_000),
        )

    # -- tables ----------------------------------------------------------------------------
    def users(self):
        password = make_password("generated-password")
        rows = []
        for role, count in (("super_admin", 2), ("admin", 6), ("user", 24)):
            for i in range(count):
                name = f"gen-{role}-{i}"
                rows.append(
                    (
                        name,
                        f"{name}@example.com",
                        password,
                        role,
                        True,
                        role == "super_admin",
                        role == "super_admin",
                        "UTC",
                        self.start,
                        self.start,
                        "",
                        "",
                    )
                )
        insert(
            User,
            [
                "username",
                "email",
                "password",
                "role",
                "is_active",
                "is_staff",
                "is_superuser",
                "timezone",
                "created_at",
                "updated_at",
                "first_name",
                "last_name",
            ],
            rows,
        )
        self.user_ids = list(
            User.objects.filter(username__startswith="gen-").values_list("id", flat=True)
        )

    def servers(self):
        rows = [
            (
                f"gen{i:04d}.example.net",
                f"127.{20 + i // 62500}.{i // 250 % 250}.{i % 250 + 1}",
                "Linux",
                self.rng.choice(["Debian 12", "Ubuntu 24.04", "Rocky 9"]),
                22,
                "deploy",
                "id_fleet",
                "ssh",
                True,
                round(self.rng.uniform(1, 99), 1),
                round(self.rng.uniform(10, 95), 1),
                round(self.rng.uniform(5, 96), 1),
                self.now - timedelta(minutes=self.rng.randrange(30)),
                "",
                self.start,
                self.now,
            )
            for i in range(self.counts["servers"])
        ]
        insert(
            Server,
            [
                "hostname",
                "ip_address",
                "os_type",
                "os_version",
                "ssh_port",
                "ssh_user",
                "ssh_key_path",
                "connection",
                "is_active",
                "cpu_usage",
                "memory_usage",
                "disk_usage",
                "last_monitored",
                "last_error",
                "created_at",
                "updated_at",
            ],
            rows,
        )
        self.server_ids = list(
            Server.objects.filter(hostname__startswith="gen").values_list("id", flat=True)
        )
        started, done, batch = time.monotonic(), 0, []
        total = len(self.server_ids) * self.metrics_per_server
        for server_id in self.server_ids:
            for n in range(self.metrics_per_server):
                at = self.now - timedelta(minutes=5 * n)
                batch.append(
                    (
                        server_id,
                        round(self.rng.uniform(1, 99), 1),
                        round(self.rng.uniform(10, 95), 1),
                        round(self.rng.uniform(5, 96), 1),
                        at,
                    )
                )
                if len(batch) >= self.batch:
                    done += insert(
                        ServerMetric, ["server", "cpu", "memory", "disk", "collected_at"], batch
                    )
                    batch = []
        done += insert(ServerMetric, ["server", "cpu", "memory", "disk", "collected_at"], batch)
        self.progress("server_metrics", done, total, started)

    def playbooks(self):
        """Each playbook gets ``versions`` versions spread over the year; its file holds the
        last. ``self.timeline[pk]`` lists (since, sha256) for the version in force."""
        self.timeline = {}
        history = []
        for i in range(self.counts["playbooks"]):
            tasks = [f"Step {n}" for n in range(1, 4)]
            contents = []
            for v in range(self.versions):
                if v:
                    tasks.append(f"Change {v}")
                body = "".join(
                    f"    - name: {t}\n      ansible.builtin.debug:\n        msg: {t} v{v}\n"
                    for t in tasks
                )
                contents.append(
                    f"- name: Generated {i}\n  hosts: all\n  gather_facts: false\n  tasks:\n{body}"
                )
            playbook = playbook_create(
                name=f"gen-playbook-{i:03d}", description=MARKER, content=contents[-1], user=None
            )
            PlaybookVersion.objects.filter(playbook_id=playbook.pk).delete()
            moments = sorted([self.start] + [self.moment() for _ in range(self.versions - 1)])
            old = ""
            line = []
            for v, (at, content) in enumerate(zip(moments, contents, strict=True)):
                sha = sha256_text(content)
                history.append(
                    (
                        playbook.pk,
                        playbook.name,
                        self.rng.choice(self.user_ids),
                        "created" if v == 0 else "updated",
                        old,
                        content,
                        sha,
                        "created" if v == 0 else f"+3 -0 lines; tasks added: Change {v}",
                        "127.0.0.1",
                        at,
                    )
                )
                line.append((at, sha))
                old = content
            self.timeline[playbook.pk] = line
        insert(
            PlaybookVersion,
            [
                "playbook_id",
                "playbook_name",
                "user",
                "action",
                "old_content",
                "new_content",
                "new_sha256",
                "changes_description",
                "ip_address",
                "created_at",
            ],
            history,
        )

    def version_at(self, playbook_id, at):
        line = self.timeline[playbook_id]
        index = bisect.bisect_right([since for since, _ in line], at) - 1
        return line[max(index, 0)][1]

    def jobs_and_logs(self):
        total, lines_total = self.counts["jobs"], self.counts["log_lines"]
        per_job = lines_total / total if total else 0
        playbook_ids = list(self.timeline)
        job_columns = [
            "job_id",
            "playbook",
            "server",
            "user",
            "status",
            "task_id",
            "extra_vars",
            "check_mode",
            "error_message",
            "rc",
            "stats",
            "playbook_sha256",
            "cancel_requested",
            "first_error_line",
            "worker",
            "started_at",
            "completed_at",
            "created_at",
        ]
        log_columns = ["job", "line_number", "content", "log_level", "timestamp"]
        started, done, lines_done, lines_planned = time.monotonic(), 0, 0, 0
        chunk = max(1000, self.batch)
        while done < total:
            size = min(chunk, total - done)
            rows, plans = [], []
            for _ in range(size):
                created = self.moment()
                status = weighted(self.rng, STATUS_WEIGHTS)
                duration = min(3600.0, math.exp(self.rng.gauss(3.5, 1.2)))
                started_at = created + timedelta(seconds=self.rng.uniform(0.05, 2))
                completed = started_at + timedelta(seconds=duration)
                playbook_id = self.rng.choice(playbook_ids)
                server_id = self.rng.choice(self.server_ids)
                host = f"gen{server_id}"
                error = (
                    ""
                    if status == "success"
                    else (
                        "Cancelled while running."
                        if status == "cancelled"
                        else self.rng.choice(FAILURES).format(host=host)
                    )
                )
                # Vary around what is left per job, so the total lands on --log-lines.
                left = (lines_total - lines_planned) / max(total - done - len(rows), 1)
                n_lines = (
                    max(4, round(self.rng.gauss(left, left / 4))) if per_job and left > 0 else 0
                )
                lines_planned += n_lines
                rows.append(
                    (
                        uuid.uuid4(),
                        playbook_id,
                        server_id,
                        self.rng.choice(self.user_ids),
                        status,
                        "",
                        {},
                        self.rng.random() < 0.05,
                        error,
                        0 if status == "success" else 2,
                        {
                            host: {
                                "ok": 5,
                                "changed": self.rng.randrange(3),
                                "failed": int(status == "failed"),
                                "unreachable": 0,
                                "skipped": 0,
                                "rescued": 0,
                                "ignored": 0,
                            }
                        },
                        self.version_at(playbook_id, created),
                        False,
                        n_lines - 2 if status == "failed" and n_lines else None,
                        "gen:1",
                        started_at,
                        completed,
                        created,
                    )
                )
                plans.append((n_lines, status, host, completed))
            before = Job.objects.aggregate(last=Max("id"))["last"] or 0
            insert(Job, job_columns, rows)
            ids = list(
                Job.objects.filter(id__gt=before).order_by("id").values_list("id", flat=True)
            )
            logs = []
            for job_id, (n_lines, status, host, completed) in zip(ids, plans, strict=True):
                for number, content, level in self.console(n_lines, status, host):
                    logs.append((job_id, number, content, level, completed))
                if len(logs) >= self.batch:
                    lines_done += insert(JobLog, log_columns, logs)
                    logs = []
            lines_done += insert(JobLog, log_columns, logs)
            done += size
            self.progress("jobs", done, total, started)
            self.out(f"  job_logs: {lines_done:,} lines")
        self.lines_done = lines_done

    def console(self, n_lines, status, host):
        """``n_lines`` numbered console lines that read like ansible-playbook output."""
        if not n_lines:
            return []
        out = [(1, "PLAY [Generated] " + "*" * 60, "INFO")]
        number = 1
        while number < n_lines - 3:
            number += 1
            if number % 2:
                out.append((number, f"TASK [Step {number // 2}] " + "*" * 55, "INFO"))
            else:
                out.append((number, f"\x1b[0;32mok: [{host}]\x1b[0m", "INFO"))
        if status == "failed":
            out.append(
                (
                    n_lines - 2,
                    f'\x1b[0;31mfatal: [{host}]: FAILED! => {{"msg": "failed"}}\x1b[0m',
                    "ERROR",
                )
            )
        else:
            out.append(
                (
                    n_lines - 2,
                    "[WARNING]: Platform linux on host uses a discovered Python",
                    "WARNING",
                )
            )
        out.append((n_lines - 1, "PLAY RECAP " + "*" * 60, "INFO"))
        out.append((n_lines, f"{host} : ok=5 changed=1 failed={int(status == 'failed')}", "INFO"))
        return out

    def client_ip(self):
        """A made-up client address for an audit row (data only; nothing connects to it)."""
        return (
            f"10.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"
        )

    def audit(self):
        total = self.counts["audit"]
        columns = [
            "user",
            "action",
            "resource_type",
            "resource_id",
            "details",
            "ip_address",
            "user_agent",
            "request_id",
            "timestamp",
        ]
        resources = {
            "RUN": "job",
            "CANCEL": "job",
            "RELAUNCH": "job",
            "UPDATE": "server",
            "CREATE": "playbook",
            "DELETE": "server",
            "PURGE": "job_logs",
        }
        started, done, batch = time.monotonic(), 0, []
        for _ in range(total):
            action = weighted(self.rng, AUDIT_ACTIONS)
            kind = resources.get(action, "user")
            batch.append(
                (
                    self.rng.choice(self.user_ids),
                    action,
                    kind,
                    str(self.rng.randrange(1, 100_000)),
                    {"generated": True},
                    self.client_ip(),
                    "Mozilla/5.0 (X11; Linux x86_64)",
                    "",
                    self.moment(),
                )
            )
            if len(batch) >= self.batch:
                done += insert(AuditLog, columns, batch)
                batch = []
                if done % (self.batch * 40) == 0:
                    self.progress("audit_logs", done, total, started)
        done += insert(AuditLog, columns, batch)
        self.progress("audit_logs", done, total, started)

    def reuse(self):
        """--append: take the users, servers and playbook versions generated earlier."""
        self.user_ids = list(
            User.objects.filter(username__startswith="gen-").values_list("id", flat=True)
        )
        self.server_ids = list(
            Server.objects.filter(hostname__startswith="gen").values_list("id", flat=True)
        )
        self.timeline = {}
        versions = PlaybookVersion.objects.filter(playbook_name__startswith="gen-playbook-")
        for pk, at, sha in versions.order_by("created_at").values_list(
            "playbook_id", "created_at", "new_sha256"
        ):
            self.timeline.setdefault(pk, []).append((at, sha))

    def run(self, *, append=False):
        if append:
            self.reuse()
            steps = []
        else:
            steps = [
                ("users", self.users),
                ("servers and metrics", self.servers),
                ("playbooks and versions", self.playbooks),
            ]
        steps += [("jobs and console lines", self.jobs_and_logs), ("audit logs", self.audit)]
        timings = {}
        for label, step in steps:
            started = time.monotonic()
            self.out(f"{label}...")
            step()
            timings[label] = time.monotonic() - started
        return timings


def already_generated():
    return User.objects.filter(username__startswith="gen-").exists()
