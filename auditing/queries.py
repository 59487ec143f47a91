"""Reading the audit trail fast at any size: resource links, described details, CSV rows.
Pages are keyset pages (``core.pagination``)."""

import json

from django.utils import timezone

from auditing.mixins import audited_model
from auditing.services import mask_secrets

EXPORT_BATCH = 2000


def attach_links(rows):
    """Set ``row.link`` to its object's page (``get_absolute_url``) when the object still exists.

    One query per resource type on the page, whatever the page holds: the models that opted in
    (``auditing.mixins``) find their own objects by the ids their rows wrote."""
    wanted: dict[str, set[str]] = {}
    for row in rows:
        row.link = None
        if row.resource_id:
            wanted.setdefault(row.resource_type, set()).add(row.resource_id)
    found: dict[str, dict] = {}
    for resource_type, ids in wanted.items():
        model = audited_model(resource_type)
        if model is not None and hasattr(model, "get_absolute_url"):
            found[resource_type] = model.audit_objects(ids)
    for row in rows:
        obj = found.get(row.resource_type, {}).get(row.resource_id)
        if obj is not None:
            row.link = obj.get_absolute_url()
    return rows


def describe(details):
    """Details as (label, text) lines for the page: a change is "old → new". Masked again
    here, so rows written before a masking rule existed are shown with it too."""
    lines = []
    for key, value in mask_secrets(details or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, change in value.items():
                if isinstance(change, list) and len(change) == 2:
                    lines.append((field, f"{_text(change[0])} → {_text(change[1])}"))
                elif isinstance(change, dict) and {"old", "new"} <= change.keys():
                    # The shape of rows written before every row used [old, new].
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
                    row.actor,
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
