"""Bring existing reports' department and municipality in line with the imported areas.

`geo.services.locate` sets a report's codes when the report is created and when its location is
edited. Reports received before boundaries were imported have only a gazetteer department and
no municipality. `relocate_reports` gives every report with a point the codes `locate` would give
it now, from its exact point and precision:

- the municipality containing the point and its department (`areas.admin_codes`);
- else the department polygon containing it, and no municipality;
- else the gazetteer's department (`gazetteer.department_at`), and no municipality;
- no municipality at precision "department".

It reads reports in id order, a batch at a time, computes the codes of a whole batch at once
(`areas.admin_codes_many`: one vectorised point-in-polygon call per area, the exact point, never
a cell) and writes only the rows whose codes change, each batch in its own short transaction.
A row is only written if its point and precision are still the ones that were read, so a
location edited meanwhile (which `locate` already got right) is never overwritten. Running it
again changes nothing; stopping it midway leaves consistent rows, and running it again finishes
the work.

On PostgreSQL, every changed row is a new row version with an entry in each of the table's
indexes: the writes, not the lookups, take the time. They are spread over a few connections
(`workers`), each writing whole batches of its own. SQLite has one writer at a time: it gets a
larger page cache instead.
"""

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from sereno.geo import areas, gazetteer

BATCH_SIZE = 20_000
MAX_WORKERS = 4


@dataclass(frozen=True)
class RelocateResult:
    examined: int  # reports with a valid point
    changed: int  # of which had their department or municipality rewritten


def located_codes(lats, lons, precisions) -> tuple[np.ndarray, np.ndarray]:
    """(department codes, municipality codes) that `services.locate` gives these points at
    these precisions (valid points only), as two arrays."""
    lat = np.asarray(lats, dtype=float).ravel()
    lon = np.asarray(lons, dtype=float).ravel()
    departments, municipalities = areas.admin_codes_many(lat, lon)
    outside = np.flatnonzero(departments == "")
    if len(outside):
        departments[outside] = gazetteer.departments_at(lat[outside], lon[outside])
    municipalities[np.asarray(precisions, dtype=object).ravel() == "department"] = ""
    return departments, municipalities


def writers(requested: int | None = None) -> int:
    """How many connections write at once: 1 on SQLite (one writer at a time anyway) and inside
    a transaction (other connections would not see its rows); else `requested`, by default one
    per CPU up to MAX_WORKERS."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    if requested is None:
        return max(1, min(MAX_WORKERS, os.cpu_count() or 1))
    return max(1, requested)


def relocate_reports(
    *,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RelocateResult:
    """Recompute department_code and municipality_code of every report that has a point.
    `progress(examined, changed)` is called as batches are done."""
    from sereno.reports.models import Report

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    workers = writers(workers)
    areas.invalidate()  # the areas as they are now, not as this process last saw them
    rows = Report.objects.filter(latitude__isnull=False, longitude__isnull=False).order_by("pk")
    fields = (
        "pk", "latitude", "longitude", "location_precision", "department_code",
        "municipality_code",
    )  # fmt: skip
    last = 0
    examined = changed = 0
    pending: deque[Future] = deque()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="relocate") if workers > 1 else None

    def collect(keep: int) -> None:
        nonlocal changed
        while len(pending) > keep:
            changed += pending.popleft().result()
            if progress is not None:
                progress(examined, changed)

    try:
        with _large_sqlite_cache():
            while True:
                batch = list(rows.filter(pk__gt=last).values_list(*fields)[:batch_size])
                if not batch:
                    break
                last = batch[-1][0]
                valid, writes = _plan(batch)
                examined += valid
                if pool is None:
                    changed += _write_all(Report, writes)
                    if progress is not None:
                        progress(examined, changed)
                else:
                    pending.append(pool.submit(_write_all_elsewhere, Report, writes))
                    collect(keep=2 * workers)  # bounded: a few batches in memory at most
            collect(keep=0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if changed:
        from sereno.geo.signals import reports_relocated

        reports_relocated.send(sender=relocate_reports, changed=changed)
    return RelocateResult(examined=examined, changed=changed)


def _plan(batch: list[tuple]) -> tuple[int, list[tuple[tuple[list, ...], bool]]]:
    """For rows (id, latitude, longitude, precision, department_code, municipality_code): how
    many have a valid point, and the writes that bring them in line, as (columns,
    set_department) pairs."""
    ids, lats, lons, precisions, old_departments, old_municipalities = (
        np.array(column, dtype=dtype)
        for column, dtype in zip(
            zip(*batch, strict=True),
            (np.int64, float, float, object, object, object),
            strict=True,
        )
    )
    # locate() refuses anything else: such a row is left as it is.
    valid = np.flatnonzero(
        np.isfinite(lats) & np.isfinite(lons) & (np.abs(lats) <= 90) & (np.abs(lons) <= 180)
    )
    departments, municipalities = located_codes(lats[valid], lons[valid], precisions[valid])
    new_department = departments != old_departments[valid]
    new_municipality = municipalities != old_municipalities[valid]
    writes = []
    # A row whose department stays only gets its municipality set: on SQLite, setting an
    # indexed column to the value it has costs as much as changing it.
    for moved, set_department in (
        (new_department, True),
        (new_municipality & ~new_department, False),
    ):
        if moved.any():
            rows = valid[moved]
            columns = (
                ids[rows].tolist(), lats[rows].tolist(), lons[rows].tolist(),
                precisions[rows].tolist(), departments[moved].tolist(),
                municipalities[moved].tolist(),
            )  # fmt: skip
            writes.append((columns, set_department))
    return len(valid), writes


def _write_all(model, writes) -> int:
    return sum(_write(model, *columns, set_department=both) for columns, both in writes)


def _write_all_elsewhere(model, writes) -> int:
    """_write_all on this worker thread's own connection, closed when done."""
    try:
        return _write_all(model, writes)
    finally:
        connection.close()


@contextmanager
def _large_sqlite_cache(kib: int = 262_144):
    """On SQLite, a 256 MB page cache for this connection while relocating: the updates touch
    index pages all over the table, and with the default 2 MB cache they take a third longer."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {previous}")


def _write(
    model, ids, lats, lons, precisions, departments, municipalities, *, set_department: bool
) -> int:
    """Set the municipality (and with `set_department` the department) of these rows, where
    point and precision are still the ones read; returns how many rows were written. One
    statement on PostgreSQL, one prepared statement run per row on SQLite."""
    q = connection.ops.quote_name
    meta = model._meta
    table = q(meta.db_table)
    pk, lat, lon, precision, department, municipality = (
        q(meta.get_field(name).column)
        for name in (
            meta.pk.name, "latitude", "longitude", "location_precision", "department_code",
            "municipality_code",
        )
    )  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            assignments = f"{municipality} = v.municipality"
            if set_department:
                assignments += f", {department} = v.department"
            # The id range lets the join start from the batch's first row, not the table's.
            cursor.execute(
                f"UPDATE {table} AS r SET {assignments} "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::float8[], %s::float8[], %s::text[], %s::text[], "
                "%s::text[]) AS v(id, latitude, longitude, precision, department, municipality) "
                f"WHERE r.{pk} = v.id AND r.{lat} = v.latitude AND r.{lon} = v.longitude "
                f"AND r.{precision} = v.precision AND r.{pk} BETWEEN %s AND %s",
                [ids, lats, lons, precisions, departments, municipalities, min(ids), max(ids)],
            )
        else:
            values = [municipalities, ids, lats, lons, precisions]
            assignments = f"{municipality} = %s"
            if set_department:
                values.insert(0, departments)
                assignments = f"{department} = %s, {assignments}"
            cursor.executemany(
                f"UPDATE {table} SET {assignments} "  # noqa: S608
                f"WHERE {pk} = %s AND {lat} = %s AND {lon} = %s AND {precision} = %s",
                list(zip(*values, strict=True)),
            )
        return cursor.rowcount
