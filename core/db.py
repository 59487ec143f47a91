"""Raw INSERT statements for the few hot paths that write many rows at once, or add to
counters in one statement (which the ORM cannot: ``bulk_create(update_conflicts=True)`` only
overwrites)."""

from collections.abc import Sequence
from typing import cast

from django.db import connection
from django.db.models import Field, Model


def insert_sql(
    model: type[Model],
    names: Sequence[str],
    *,
    rows: int = 1,
    conflict: Sequence[str] = (),
    maxima: Sequence[str] = (),
    keep: Sequence[str] = (),
) -> str:
    """``INSERT INTO <table> (<columns>) VALUES (%s, ...)`` for ``model``'s fields ``names``,
    with ``rows`` rows of placeholders.

    With ``conflict`` (the field names of a unique key) the statement is an upsert: a row whose
    key exists adds its values to the stored ones, except fields in ``maxima`` (the greater of
    the two is kept) and in ``keep`` (the stored value stays). MySQL/MariaDB get ``ON DUPLICATE
    KEY UPDATE``, SQLite and PostgreSQL ``ON CONFLICT ... DO UPDATE``.

    Identifiers come from the model's meta and are quoted; values stay parameters (``%s``), so
    the statement is safe for ``cursor.execute``/``executemany`` (which mysqlclient folds into
    one multi-row INSERT)."""
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)

    def column_of(name: str) -> str:
        return quote(str(cast(Field, meta.get_field(name)).column))

    columns = {name: column_of(name) for name in names}
    one_row = "(" + ", ".join(["%s"] * len(names)) + ")"
    sql = f"INSERT INTO {table} ({', '.join(columns.values())}) VALUES "  # noqa: S608
    sql += ", ".join([one_row] * rows)
    if not conflict:
        return sql
    mysql = connection.vendor == "mysql"
    incoming = "VALUES({})" if mysql else "excluded.{}"
    greatest = "GREATEST" if connection.vendor in ("mysql", "postgresql") else "MAX"
    assignments = []
    for name, column in columns.items():
        if name in conflict or name in keep:
            continue
        new = incoming.format(column)
        if name in maxima:
            assignments.append(f"{column} = {greatest}({table}.{column}, {new})")
        else:
            assignments.append(f"{column} = {table}.{column} + {new}")
    if mysql:
        return f"{sql} ON DUPLICATE KEY UPDATE " + ", ".join(assignments)
    key = ", ".join(column_of(name) for name in conflict)
    return f"{sql} ON CONFLICT ({key}) DO UPDATE SET " + ", ".join(assignments)
