"""Reading the audit trail fast at any size: resource links, described details, CSV rows.
Pages are keyset pages (``core.pagination``)."""

import json
import uuid

from django.utils import timezone

from auditing.services import mask_secrets

EXPORT_BATCH = 2000

# Where each resource type's page lives (plain paths: other apps own those pages).
RESOURCE_PATHS = {
    "user": "/users/{}/edit/",
    "server": "/servers/{}/",
    "playbook": "/playbooks/{}/",
    "job": "/jobs/{}/",
}


def _existing_ids(resource_type, ids):
    from accounts.models import User
    from automation.models import Job, Playbook
    from inventory.models import Server

    if resource_type == "job":
        valid = []
        for value in ids:
            try:
                valid.append(uuid.UUID(value))
            except ValueError:
                continue
        found = Job.objects.filter(job_id__in=valid).values_list("job_id", flat=True)
        return {str(job_id) for job_id in found}
    model = {"user": User, "server": Server, "playbook": Playbook}[resource_type]
    numeric = [int(value) for value in ids if value.isdigit()]
    return {str(pk) for pk in model.objects.filter(pk__in=numeric).values_list("pk", flat=True)}


def attach_links(rows):
    """Set ``row.link`` to its resource's page when the resource still exists.

    One query per resource type on the page (at most four), whatever the page holds."""
    wanted = {}
    for row in rows:
        row.link = None
        if row.resource_type in RESOURCE_PATHS and row.resource_id:
            wanted.setdefault(row.resource_type, set()).add(row.resource_id)
    existing = {kind: _existing_ids(kind, ids) for kind, ids in wanted.items()}
    for row in rows:
        if row.resource_id in existing.get(row.resource_type, ()):
            row.link = RESOURCE_PATHS[row.resource_type].format(row.resource_id)
    return rows


def describe(details):
    """Details as (label, text) lines for the page: a change is "old → new". Masked again
    here, so rows written before a masking rule existed are shown with it too."""
    lines = []
    for key, value in mask_secrets(details or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, dict) and {"old", "new"} <= change.keys():
                    lines.append((field, f"{_text(change['old'])} → {_text(change['new'])}"))
                else:
                    lines.append((field, _text(change)))
        elif key == "fields" and isinstance(value, dict):
            lines.extend((field, _text(item)) for field, item in value.items())
        else:
            lines.append((key, _text(value)))
    return lines


def _text(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """A cell a spreadsheet shows as text: a leading = + - @ tab or CR would make it a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


CSV_HEADER = [
    "id",
    "timestamp",
    "user",
    "action",
    "resource_type",
    "resource_id",
    "ip_address",
    "user_agent",
    "request_id",
    "details",
]


def csv_rows(rows, tz):
    """The header and then every row of ``rows`` (newest first), fetched in keyset batches so
    memory stays flat however many rows match (the MySQL client buffers whole results)."""
    yield CSV_HEADER
    cursor = None
    while True:
        batch = list((rows.filter(id__lt=cursor) if cursor else rows)[:EXPORT_BATCH])
        for row in batch:
            yield [
                csv_cell(value)
                for value in (
                    row.id,
                    timezone.localtime(row.timestamp, tz).strftime("%Y-%m-%d %H:%M:%S %Z"),
                    row.user.username if row.user else "system",
                    row.action,
                    row.resource_type,
                    row.resource_id,
                    row.ip_address or "",
                    row.user_agent,
                    row.request_id,
                    json.dumps(mask_secrets(row.details), ensure_ascii=False, sort_keys=True),
                )
            ]
        if len(batch) < EXPORT_BATCH:
            return
        cursor = batch[-1].id
