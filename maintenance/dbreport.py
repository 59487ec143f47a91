"""The database report, built live: what ``manage.py db_report`` prints and ``/database/`` shows.

``build_report()`` reads the database once into a plain dict; ``render_markdown`` and
``render_json`` turn it into text, the page's template into HTML. The number of queries is
constant in the data size (a few per table), so the page stays fast on a big database.

Counts. ``COUNT(*)`` on a 10M-row InnoDB table scans an index for seconds, so on MySQL/MariaDB a
table whose information_schema ``TABLE_ROWS`` estimate is at least ``EXACT_COUNT_LIMIT`` shows
that estimate, marked ``~`` (``rows_exact`` False); smaller tables are counted exactly. SQLite is
always counted exactly. Sizes come from information_schema on MySQL and from the ``dbstat``
virtual table on SQLite (a note says so when the build lacks it).
"""

import json
import sqlite3
from datetime import timedelta

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection
from django.db.models import Max
from django.utils import timezone

from auditing.models import AuditLog
from maintenance.retention import RETENTION

PROJECT_APPS = ("accounts", "inventory", "automation", "auditing", "insights")
EXACT_COUNT_LIMIT = 100_000
PROJECTION_JOBS = (1_000, 10_000)
RECENT_DAYS = 30
# Below this many rows a table is mostly empty pages: its size says nothing about its row size.
MIN_ROWS_FOR_ROW_SIZE = 1_000
MB = 1024 * 1024

# Why each index exists, by the name the models give it (or "unique <field>" / "<field> index"
# for a field's own). The list of indexes itself is read from the models (declared_indexes).
INDEX_REASONS = {
    "idx_users_role": "users page filters by role",
    "unique hostname": "lookup and uniqueness",
    "ip_address index": "search by address",
    "idx_metrics_server_time": "charts",
    "idx_metrics_collected_at": "metrics retention",
    "unique name": "lookup and uniqueness",
    "idx_jobs_created_at": "jobs list, newest first",
    "idx_jobs_status_created": "jobs list by status",
    "idx_jobs_playbook_created": "jobs by playbook",
    "idx_jobs_server_created": "jobs by server",
    "idx_jobs_user_created": "jobs by user",
    "idx_worker_heartbeats_seen": "reaper, health",
    "idx_worker_heartbeats_cluster": "a worker's shutdown",
    "unique job_id": "job pages by UUID",
    "uniq_job_logs_line": "console reads by line",
    "uniq_job_hosts_host": "a job's hosts; stats at the end by hostname",
    "idx_job_hosts_server_created": "jobs on a server (multi-host jobs), newest first",
    "timestamp index": "job log retention",
    "idx_audit_user": "audit filter by user",
    "idx_audit_action": "audit filter; last purge runs",
    "idx_audit_resource_type": "audit filter by type",
    "idx_audit_timestamp": "audit list; audit retention",
    "idx_audit_resource": "object history",
    "idx_audit_login_throttle": "failed logins per username and IP (login throttling)",
    "idx_pb_audit_playbook": "history",
    "idx_pb_audit_action": "history filter",
    "idx_pb_audit_created_at": "all history",
    "idx_pb_audit_sha256": "job -> version",
    "uniq_job_daily_stat": "rollup upsert key",
    "idx_job_daily_stat_runs": "analytics (covering)",
    "uniq_job_server_daily_stat": "rollup key",
    "idx_job_server_stat_runs": "top servers",
    "uniq_job_failure_stat": "top failures",
    "uniq_audit_daily_stat": "active users",
    "uniq_playbooks_project_path": "a project's playbooks by path (sync)",
    "uniq_project_snapshot_revision": "one snapshot per revision",
    "idx_snapshots_project_synced": "a project's revisions, newest first",
    "unique sync_id": "sync pages by UUID",
    "idx_syncs_project_created": "a project's syncs, newest first",
    "idx_syncs_status_created": "live syncs; reaper",
    "uniq_project_sync_logs_line": "sync log reads by line",
}


def declared_indexes():
    """Every index the models declare, as (table, columns, name, why, prefix_ok): Meta.indexes,
    unique constraints and unique_together, unique and db_index fields (whole column lists),
    and foreign keys, which any index starting with their column serves (InnoDB does not add
    its own when one exists), so for those ``prefix_ok`` is True."""
    found = []
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models():
            meta, table = model._meta, model._meta.db_table

            def column(name, meta=meta):
                return meta.get_field(name.lstrip("-")).column

            for index in meta.indexes:
                if index.fields:
                    found.append((table, tuple(map(column, index.fields)), index.name, False))
            for constraint in meta.constraints:
                fields = getattr(constraint, "fields", ())
                if fields and getattr(constraint, "condition", None) is None:
                    found.append((table, tuple(map(column, fields)), constraint.name, False))
            for fields in meta.unique_together:
                found.append((table, tuple(map(column, fields)), "unique_together", False))
            for field in meta.concrete_fields:
                if field.primary_key:
                    continue
                if field.unique:
                    found.append((table, (field.column,), f"unique {field.name}", False))
                elif field.is_relation and field.db_index:
                    found.append((table, (field.column,), f"{field.name} foreign key", True))
                elif field.db_index:
                    found.append((table, (field.column,), f"{field.name} index", False))
    return [
        (table, columns, name, INDEX_REASONS.get(name, "declared in the models"), prefix)
        for table, columns, name, prefix in found
    ]


# Tables whose growth rate is measured from their time column.
GROWING_TABLES = {
    "jobs": "created_at",
    "job_logs": "timestamp",
    "audit_logs": "timestamp",
    "server_metrics": "collected_at",
    "playbook_audit_logs": "created_at",
}


def project_tables():
    """The tables of the project's apps (auto-created many-to-many tables included), sorted."""
    tables = set()
    for label in PROJECT_APPS:
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                tables.add(model._meta.db_table)
    return sorted(tables)


def build_report(*, now=None):
    """Everything the report says, as a dict of plain values (datetimes left as datetimes)."""
    now = now or timezone.now()
    existing = set(connection.introspection.table_names())
    tables = [t for t in project_tables() if t in existing]
    notes = []
    stats = _table_stats(tables, notes)
    used_bytes = sum((s["data_bytes"] or 0) + (s["index_bytes"] or 0) for s in stats.values())
    rows = []
    for table in tables:
        s = stats[table]
        total = None if s["data_bytes"] is None else s["data_bytes"] + s["index_bytes"]
        rows.append(
            {
                "table": table,
                "rows": s["rows"],
                "rows_exact": s["rows_exact"],
                "data_bytes": s["data_bytes"],
                "index_bytes": s["index_bytes"],
                "total_bytes": total,
                "bytes_per_row": (
                    round(total / s["rows"])
                    if total and s["rows"] >= MIN_ROWS_FOR_ROW_SIZE
                    else None
                ),
                "utilisation_pct": round(100 * total / used_bytes, 1) if used_bytes else None,
                "unused": s["rows"] == 0,
            }
        )
    by_table = {r["table"]: r for r in rows}
    jobs, lines = by_table.get("jobs"), by_table.get("job_logs")
    lines_per_job = round(lines["rows"] / jobs["rows"], 1) if jobs and jobs["rows"] else None
    free_bytes = _free_bytes(notes)
    return {
        "generated_at": now,
        "engine": _engine(),
        "tables": rows,
        "totals": {
            "rows": sum(r["rows"] for r in rows),
            "bytes": used_bytes if any(r["total_bytes"] is not None for r in rows) else None,
            "free_bytes": free_bytes,
            "fill_pct": (
                round(100 * used_bytes / (used_bytes + free_bytes), 1)
                if free_bytes is not None and used_bytes
                else None
            ),
            "unused_tables": [r["table"] for r in rows if r["unused"]],
        },
        "job_logs": {
            "lines_per_job": lines_per_job,
            "bytes_per_line": lines["bytes_per_row"] if lines else None,
        },
        "projection": _projection(by_table, lines_per_job, now),
        "retention": _retention(),
        "missing_indexes": missing_indexes(),
        "estimates_note": (
            f"Row counts marked ~ are information_schema estimates (tables of "
            f"{EXACT_COUNT_LIMIT:,}+ rows); the others are exact COUNT(*)."
        ),
        "notes": notes
        + [
            f"Bytes per row (and so the MB projections) need {MIN_ROWS_FOR_ROW_SIZE:,}+ rows;"
            " a smaller table is mostly empty pages."
        ],
    }


def _engine():
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            version = cursor.fetchone()[0]
        name = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    elif connection.vendor == "sqlite":
        name, version = "SQLite", sqlite3.sqlite_version
    else:
        name, version = connection.vendor, ""
    return {"vendor": connection.vendor, "name": name, "version": version}


def _exact_count(table):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return cursor.fetchone()[0]


def _table_stats(tables, notes):
    """{table: {rows, rows_exact, data_bytes, index_bytes}} from the engine's catalogue."""
    stats = {
        t: {"rows": 0, "rows_exact": True, "data_bytes": None, "index_bytes": None} for t in tables
    }
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH"
                " FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
            )
            catalogue = {name: rest for name, *rest in cursor.fetchall()}
        for table in tables:
            estimate, data, index = catalogue.get(table, (0, 0, 0))
            s = stats[table]
            s["data_bytes"], s["index_bytes"] = int(data or 0), int(index or 0)
            if (estimate or 0) >= EXACT_COUNT_LIMIT:
                s["rows"], s["rows_exact"] = int(estimate), False
            else:
                s["rows"] = _exact_count(table)
        return stats
    for table in tables:
        stats[table]["rows"] = _exact_count(table)
    if connection.vendor == "sqlite":
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT m.tbl_name, m.type, SUM(d.pgsize) FROM dbstat d"
                    " JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name, m.type"
                )
                sizes = cursor.fetchall()
        except DatabaseError:
            notes.append("This SQLite build has no dbstat table: sizes are not available.")
            return stats
        for table in tables:
            stats[table]["data_bytes"] = stats[table]["index_bytes"] = 0
        for table, kind, size in sizes:
            if table in stats:
                key = "data_bytes" if kind == "table" else "index_bytes"
                stats[table][key] += int(size or 0)
    else:
        notes.append(f"Sizes are not available on {connection.vendor}.")
    return stats


def _free_bytes(notes):
    """Space allocated to the database but not holding rows (reclaimed by optimize_db)."""
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT COALESCE(SUM(DATA_FREE), 0) FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = DATABASE()"
            )
            return int(cursor.fetchone()[0])
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA freelist_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            return pages * cursor.fetchone()[0]
    return None


def _recent_rows(table, column, since, exact, estimate):
    """Rows written since ``since`` and whether that is exact. Small tables and SQLite: counted
    from the timestamps. Big MySQL tables: estimated from the id range, two index reads instead
    of a long COUNT; this assumes ids grow with time (a restore or back-dated rows break it), so
    it and every figure derived from it is marked as an estimate (~)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if exact:
            cursor.execute(
                f"SELECT COUNT(*) FROM {qn(table)} WHERE {qn(column)} >= %s",  # noqa: S608
                [since],
            )
            return cursor.fetchone()[0], True
        # The first row at the cutoff is one seek on the time index; MIN(id) over the range
        # would read a month of index entries (0.27 s on 9.5M job_logs).
        cursor.execute(
            f"SELECT (SELECT id FROM {qn(table)} WHERE {qn(column)} >= %s "  # noqa: S608
            f"ORDER BY {qn(column)} LIMIT 1), (SELECT MAX(id) FROM {qn(table)})",
            [since],
        )
        low, high = cursor.fetchone()
        # Capped by the table's estimate: auto-increment gaps widen the id range.
        return (min(high - low + 1, estimate) if low is not None else 0), False


def _projection(by_table, lines_per_job, now):
    """Rows and MB at 1k/10k jobs, and a year from now at the last 30 days' rate."""

    def mb(rows, table):
        per_row = by_table[table]["bytes_per_row"] if table in by_table else None
        return round(rows * per_row / MB, 1) if per_row else None

    at_jobs = []
    for n in PROJECTION_JOBS:
        entry = {"jobs": n, "job_rows": n, "job_mb": mb(n, "jobs"), "log_rows": None}
        if lines_per_job is not None:
            entry["log_rows"] = round(n * lines_per_job)
            entry["log_mb"] = mb(entry["log_rows"], "job_logs")
        at_jobs.append(entry)

    retention_days = {r.table: r.days for r in RETENTION}
    since = now - timedelta(days=RECENT_DAYS)
    per_year = []
    for table, column in GROWING_TABLES.items():
        if table not in by_table:
            continue
        current = by_table[table]
        recent, exact = _recent_rows(table, column, since, current["rows_exact"], current["rows"])
        daily = recent / RECENT_DAYS
        without = round(current["rows"] + daily * 365)
        days = retention_days.get(table, 0)
        # With retention the table settles at about one retention window of rows.
        with_retention = min(without, round(daily * days)) if days else without
        per_year.append(
            {
                "table": table,
                "last_30_days": recent,
                "last_30_days_exact": exact,
                # Every figure below is derived from the 30 days and the table's row count:
                # an estimate when either is one (shown with ~).
                "exact": exact and current["rows_exact"],
                "per_day": round(daily, 1),
                "per_year": round(daily * 365),
                "rows_in_a_year": without,
                "mb_in_a_year": mb(without, table),
                "retention_days": days,
                "rows_in_a_year_with_retention": with_retention,
                "mb_in_a_year_with_retention": mb(with_retention, table),
            }
        )
    return {"at_jobs": at_jobs, "per_year": per_year}


def _retention():
    """Retention in force per table and when its purge last ran: the latest PURGE row by time
    (not by id: a row's id says when it was inserted, not when the purge ran, e.g. after a
    restore). Found through the action index (PURGE rows are a few a day), one query per
    table. The tables, settings and commands are the retention registry's."""
    purges = AuditLog.objects.filter(action=AuditLog.Action.PURGE)
    return [
        {
            "table": r.table,
            "setting": r.setting,
            "days": r.days,
            "command": r.command,
            "last_run": purges.filter(resource_type=r.table).aggregate(last=Max("timestamp"))[
                "last"
            ],
        }
        for r in RETENTION
    ]


def live_indexes():
    """{table: [leading column tuples]} of every index in the live schema, in one query."""
    if connection.vendor == "mysql":
        sql = (
            "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
            " WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        )
    elif connection.vendor == "sqlite":
        # Rowid tables keep their INTEGER PRIMARY KEY outside any index: list it as one.
        sql = (
            "SELECT m.tbl_name, m.name, i.name FROM sqlite_master m, pragma_index_info(m.name) i"
            " WHERE m.type = 'index' UNION ALL"
            " SELECT m.tbl_name, 'pk', p.name FROM sqlite_master m, pragma_table_info(m.name) p"
            " WHERE m.type = 'table' AND p.pk = 1 ORDER BY 1, 2"
        )
    else:
        found = {}
        with connection.cursor() as cursor:
            for table in connection.introspection.table_names(cursor):
                constraints = connection.introspection.get_constraints(cursor, table).values()
                found[table] = [tuple(c["columns"]) for c in constraints if c["columns"]]
        return found
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    indexes = {}
    for table, index, column in rows:
        indexes.setdefault(table, {}).setdefault(index, []).append(column)
    return {table: [tuple(cols) for cols in named.values()] for table, named in indexes.items()}


def missing_indexes(*, recommended=None):
    """Indexes the models declare that the live schema lacks: no live index has exactly their
    columns (a foreign key is served by any index that starts with its column)."""
    recommended = declared_indexes() if recommended is None else recommended
    present = live_indexes()
    missing = []
    for table, columns, name, why, *rest in recommended:
        columns, prefix_ok = tuple(columns), bool(rest and rest[0])
        live = present.get(table, [])
        if prefix_ok:
            found = any(cols[: len(columns)] == columns for cols in live)
        else:
            found = columns in live
        if not found:
            missing.append({"table": table, "columns": list(columns), "name": name, "why": why})
    return missing


def render_json(report):
    return json.dumps(report, cls=DjangoJSONEncoder, indent=2)


def _size(value):
    return "n/a" if value is None else f"{value / MB:,.2f} MB"


def _count(value, exact=True):
    return f"{'' if exact else '~'}{value:,}"


def _opt(value, suffix="", *, mark=""):
    return "n/a" if value is None else f"{mark}{value:,}{suffix}"


def render_markdown(report):
    """The report as Markdown, in the order of the seed's report."""
    e, t = report["engine"], report["totals"]
    out = [
        "# Database report",
        "",
        f"Generated {report['generated_at']:%Y-%m-%d %H:%M:%S %Z} on {e['name']} {e['version']}.",
        "",
        "## Tables",
        "",
        "| table | rows | data | indexes | total | per row | share | unused |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["tables"]:
        out.append(
            f"| {r['table']} | {_count(r['rows'], r['rows_exact'])} | {_size(r['data_bytes'])}"
            f" | {_size(r['index_bytes'])} | {_size(r['total_bytes'])}"
            f" | {_opt(r['bytes_per_row'], ' B')} | {_opt(r['utilisation_pct'], '%')}"
            f" | {'UNUSED' if r['unused'] else ''} |"
        )
    out += [
        "",
        f"Total: {t['rows']:,} rows, {_size(t['bytes'])} used, {_size(t['free_bytes'])} free"
        f" (fill {_opt(t['fill_pct'], '%')}). Share = the table's part of the space used.",
        f"Unused tables (zero rows): {', '.join(t['unused_tables']) or 'none'}.",
        report["estimates_note"],
        "",
        "## Job logs",
        "",
        f"Lines per job: {_opt(report['job_logs']['lines_per_job'])};"
        f" bytes per line: {_opt(report['job_logs']['bytes_per_line'])}.",
        "",
        "## Growth projection",
        "",
        "| jobs | job rows | jobs MB | log lines | logs MB |",
        "|---:|---:|---:|---:|---:|",
    ]
    for p in report["projection"]["at_jobs"]:
        out.append(
            f"| {p['jobs']:,} | {p['job_rows']:,} | {_opt(p['job_mb'])} | {_opt(p['log_rows'])}"
            f" | {_opt(p.get('log_mb'))} |"
        )
    out += [
        "",
        f"A year from now at the last {RECENT_DAYS} days' rate:",
        "",
        "| table | last 30 days | per year | rows (no retention) | MB | retention |"
        " rows (retention) | MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["projection"]["per_year"]:
        days = f"{p['retention_days']} d" if p["retention_days"] else "forever"
        mark = "" if p["exact"] else "~"
        out.append(
            f"| {p['table']} | {_count(p['last_30_days'], p['last_30_days_exact'])}"
            f" | {mark}{p['per_year']:,} | {mark}{p['rows_in_a_year']:,}"
            f" | {_opt(p['mb_in_a_year'], mark=mark)} | {days}"
            f" | {mark}{p['rows_in_a_year_with_retention']:,}"
            f" | {_opt(p['mb_in_a_year_with_retention'], mark=mark)} |"
        )
    out += ["", "## Retention", "", "| table | setting | days | command | last run |"]
    out.append("|---|---|---:|---|---|")
    for r in report["retention"]:
        days = r["days"] or "0 (keep forever)"
        last = f"{r['last_run']:%Y-%m-%d %H:%M:%S %Z}" if r["last_run"] else "never"
        out.append(f"| {r['table']} | {r['setting']} | {days} | {r['command']} | {last} |")
    out += ["", "## Missing recommended indexes", ""]
    if report["missing_indexes"]:
        for m in report["missing_indexes"]:
            out.append(f"- {m['table']} ({', '.join(m['columns'])}): {m['name']}, {m['why']}")
    else:
        out.append(f"None: all {len(declared_indexes())} declared indexes are present.")
    if report["notes"]:
        out += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    return "\n".join(out) + "\n"
