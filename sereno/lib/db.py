"""Statements the ORM does not write in one round trip, or that a hot path should not have
the ORM compile again for every call."""

import functools

from django.db import connection, models


def columns(model: type[models.Model]) -> str:
    """Every concrete column of `model`, quoted, for a SELECT whose rows `raw()` turns into
    instances (names from the model's own metadata)."""
    q = connection.ops.quote_name
    return ", ".join(q(field.column) for field in model._meta.concrete_fields)


def marks(n: int) -> str:
    """n parameter placeholders for an IN list."""
    return ", ".join(["%s"] * n)


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of field `name` ("pk" for the primary key)."""
    meta = model._meta
    field = meta.pk if name == "pk" else meta.get_field(name)
    return connection.ops.quote_name(field.column)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def for_update(*, skip_locked: bool = False) -> str:
    """The row-lock clause to end a SELECT with, where the database has one (SQLite has none:
    its transactions begin IMMEDIATE, settings.py, and hold the write lock)."""
    features = connection.features
    if not features.has_select_for_update:
        return ""
    if skip_locked and features.has_select_for_update_skip_locked:
        return " FOR UPDATE SKIP LOCKED"
    return " FOR UPDATE"


def select_in(
    model: type[models.Model],
    field: str,
    count: int,
    *,
    equal: tuple[str, ...] = (),
    order_by: tuple[str, ...] = (),
    limit: int | None = None,
) -> str:
    """SELECT every column of `model` WHERE `field` IN (`count` values) AND each of `equal`
    = a value (parameters in that order), ORDER BY field names ("-" for descending), LIMIT:
    built once per shape (a hot path's statement, not compiled again by the ORM)."""
    return _select_in(connection.vendor, model, field, count, equal, order_by, limit)


@functools.lru_cache(maxsize=512)  # one per model, shape and count
def _select_in(vendor, model, field, count, equal, order_by, limit) -> str:
    conditions = [
        f"{column(model, field)} IN ({marks(count)})",
        *(f"{column(model, name)} = %s" for name in equal),
    ]
    where = " AND ".join(conditions)
    # Names come from the model's own metadata; every value is a parameter.
    sql = f"SELECT {columns(model)} FROM {table(model)} WHERE {where}"  # noqa: S608
    if order_by:
        order = (
            f"{column(model, n[1:])} DESC" if n[0] == "-" else column(model, n) for n in order_by
        )
        sql += " ORDER BY " + ", ".join(order)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql


def by_ids(model: type[models.Model], ids) -> dict:
    """{pk: instance} by one raw SELECT (no query compiled by the ORM)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {row.pk: row for row in model.objects.raw(select_in(model, "pk", len(ids)), ids)}


def insert(row: models.Model) -> None:
    """`row.save()` of a new row as one INSERT … RETURNING id, written without the ORM
    compiling it (a conversation opened by every first message)."""
    if not _insert(row, conflict=None):
        raise RuntimeError("INSERT returned no id")


def insert_or_nothing(row: models.Model, *, conflict: str) -> bool:
    """INSERT … ON CONFLICT (<conflict>) DO NOTHING RETURNING id (PostgreSQL, and SQLite >=
    3.35): one statement where a lookup, a savepoint (or BEGIN), the insert and its release
    are four. True and `row.pk` set when inserted; False when a row with that unique value
    exists already. Fields are prepared as `save()` prepares them (defaults, auto_now)."""
    return _insert(row, conflict=conflict)


def _insert(row: models.Model, *, conflict: str | None) -> bool:
    meta = row._meta
    q = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    names = ", ".join(q(f.column) for f in fields)
    # Names come from the model's own metadata; every value is a parameter.
    sql = f"INSERT INTO {q(meta.db_table)} ({names}) VALUES ({marks(len(fields))})"  # noqa: S608
    if conflict:
        sql += f" ON CONFLICT ({q(meta.get_field(conflict).column)}) DO NOTHING"
    sql += f" RETURNING {q(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    row._state.adding = False
    row._state.db = connection.alias
    return True
