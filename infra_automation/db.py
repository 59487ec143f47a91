"""Raw inserts for the few hot paths that write many rows at once."""

from django.db import connection


def insert_sql(model, names):
    """``INSERT INTO <table> (<columns>) VALUES (%s, ...)`` for ``model``'s fields ``names``.

    Identifiers come from the model's meta and are quoted; values stay parameters, so the
    statement is safe for ``cursor.executemany`` (which mysqlclient folds into one multi-row
    INSERT)."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
