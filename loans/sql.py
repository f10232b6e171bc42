"""Set-based SQL helpers the ORM lacks, for PostgreSQL and SQLite alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models import ForeignObjectRel


def bulk_set(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]], batch: int = 1000) -> int:
    """Set ``fields`` of many rows at once: ``rows`` are (pk, value, value, …) in the order of ``fields``.

    One ``UPDATE … FROM (VALUES …)`` per batch. Django's own ``bulk_update`` builds a CASE expression per row and
    field, which costs seconds of Python for a few thousand rows; this costs one statement.
    """
    if not rows:
        return 0
    meta = model._meta
    columns = [_column(meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"

    def value_ref(index: int, field: models.Field) -> str:
        ref = f"v.column{index + 2}"
        # PostgreSQL types VALUES columns from their literals; an all-NULL column would be text, so cast.
        return f"CAST({ref} AS {field.db_type(connection)})" if postgres else ref

    assignments = ", ".join(f"{quote(column)} = {value_ref(i, field)}" for i, (field, column) in enumerate(columns))
    pk_column = quote(_column(meta.pk)[1])
    table = quote(meta.db_table)
    placeholder = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list[Any] = []
            for row in chunk:
                params.append(row[0])
                params.extend(
                    field.get_db_prep_save(value, connection)
                    for (field, _), value in zip(columns, row[1:], strict=True)
                )
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([placeholder] * len(chunk))}) AS v "
                f"WHERE {table}.{pk_column} = v.column1",
                params,
            )
            updated += cursor.rowcount
    return updated


def _column(field: models.Field[Any, Any] | ForeignObjectRel) -> tuple[models.Field[Any, Any], str]:
    """A field with a column of its own, and that column (the reverse side of a relation has none)."""
    if not isinstance(field, models.Field) or field.column is None:
        raise ValueError(f"{field.name} has no column to set")
    return field, field.column


def days_between_sql(later: str, earlier: str) -> str:
    """SQL for the whole days from ``earlier`` to ``later`` (dates or timestamps, as SQL expressions)."""
    if connection.vendor == "postgresql":
        return f"(CAST({later} AS date) - CAST({earlier} AS date))"
    return f"CAST(julianday(date({later})) - julianday(date({earlier})) AS INTEGER)"


def json_rows_sql(table: str, where: str, **fields: str) -> str:
    """A scalar subquery giving the rows of ``table`` matching ``where`` as one JSON array of objects with
    ``fields`` (name → column), or NULL when none match: ``jsonb_agg`` on PostgreSQL, ``json_group_array`` on
    SQLite. Lets one query bring parent rows with all their children. PostgreSQL nests JSON columns and writes
    timestamps in ISO-8601 with an offset; SQLite gives JSON columns as text and timestamps as naive UTC."""
    postgres = connection.vendor == "postgresql"
    build, agg = ("jsonb_build_object", "jsonb_agg") if postgres else ("json_object", "json_group_array")
    pairs = ", ".join(f"'{name}', {column}" for name, column in fields.items())
    return f"(SELECT {agg}({build}({pairs})) FROM {table} WHERE {where})"
