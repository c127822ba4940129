"""Many ids, or many small rows, as one query parameter on PostgreSQL and SQLite alike.

`WHERE id IN (%s, %s, …)` with thousands of values makes the driver quote every one of them
and hits SQLite's limit on bound parameters. A JSON array is one parameter that both databases
unpack themselves; bulk statements (alert fan-out) use it.
"""

import json

from django.db import connection

_IDS = {
    "postgresql": "SELECT value::bigint AS id FROM jsonb_array_elements_text(%s::jsonb)",
    "sqlite": "SELECT value AS id FROM json_each(%s)",
}
_FIELD = {
    "postgresql": ("(value->>{i})::{cast}", "jsonb_array_elements(%s::jsonb)"),
    "sqlite": ("json_extract(value, '$[{i}]')", "json_each(%s)"),
}
_CASTS = {int: "bigint", str: "text"}


def ids_subquery() -> str:
    """SQL selecting one column `id` from the parameter `ids_param(...)` gives."""
    return _IDS[connection.vendor]


def ids_param(ids) -> str:
    return json.dumps([int(i) for i in ids])


def rows_subquery(**columns: type) -> str:
    """SQL selecting the named columns (int or str) from the parameter `rows_param` gives:
    rows_subquery(contact_id=int, language=str) reads [[12, "es"], [15, "en"], …]."""
    field, source = _FIELD[connection.vendor]
    selected = ", ".join(
        f"{field.format(i=i, cast=_CASTS[kind])} AS {name}"
        for i, (name, kind) in enumerate(columns.items())
    )
    return f"SELECT {selected} FROM {source}"  # noqa: S608 - names are the caller's literals


def rows_param(rows) -> str:
    return json.dumps([list(row) for row in rows])
