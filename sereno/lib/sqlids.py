"""A list of ids as one query parameter, on PostgreSQL and SQLite alike.

`WHERE id IN (%s, %s, …)` with thousands of ids makes the driver quote every one of them and
hits SQLite's limit on bound parameters. A JSON array is one parameter that both databases
unpack themselves; bulk statements (alert fan-out) use it.
"""

import json

from django.db import connection

_UNPACK = {
    "postgresql": "SELECT value::bigint AS id FROM jsonb_array_elements_text(%s::jsonb)",
    "sqlite": "SELECT value AS id FROM json_each(%s)",
}


def ids_subquery() -> str:
    """SQL selecting one column `id` from the parameter `ids_param(...)` gives."""
    return _UNPACK[connection.vendor]


def ids_param(ids) -> str:
    return json.dumps([int(i) for i in ids])
