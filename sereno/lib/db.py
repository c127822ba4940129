"""Statements the ORM does not write in one round trip."""

from django.db import connection, models


def insert_or_nothing(row: models.Model, *, conflict: str) -> bool:
    """INSERT … ON CONFLICT (<conflict>) DO NOTHING RETURNING id (PostgreSQL, and SQLite >=
    3.35): one statement where a lookup, a savepoint (or BEGIN), the insert and its release
    are four. True and `row.pk` set when inserted; False when a row with that unique value
    exists already. Fields are prepared as `save()` prepares them (defaults, auto_now)."""
    meta = row._meta
    q = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]
    columns = ", ".join(q(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    key = q(meta.get_field(conflict).column)
    # Names come from the model's own metadata; every value is a parameter.
    sql = f"INSERT INTO {q(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608
    sql += f" ON CONFLICT ({key}) DO NOTHING RETURNING {q(meta.pk.column)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        inserted = cursor.fetchone()
    if inserted is None:
        return False
    row.pk = inserted[0]
    row._state.adding = False
    row._state.db = connection.alias
    return True
