"""Every write to a report goes through here: checks, the write, and its audit row, in one
transaction."""

import contextlib
import functools
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.crowdmap.services import map_track  # crowdmap: map counts follow every change
from sereno.geo.services import locate
from sereno.lib.crypto import seal_text
from sereno.lib.errors import Conflict, InvalidInput, Locked, NotAllowed, NotFound
from sereno.reports.models import (
    Category,
    Channel,
    Comment,
    LocationPrecision,
    Report,
    Status,
    TimePrecision,
)
from sereno.reports.workflow import REASON_REQUIRED, TRANSITIONS, allowed_sources

# Crockford's base32 without I, L, O, U: unambiguous when read aloud or copied by hand.
REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_LENGTH = 10  # 50 bits: unguessable, short enough for an SMS
CONTACT_PURPOSE = "report-contact"
MAX_FILES = 5


def new_reference() -> str:
    bits = secrets.randbits(5 * REFERENCE_LENGTH)  # one draw from the OS, 5 bits per character
    return "".join(REFERENCE_ALPHABET[(bits >> (5 * i)) & 31] for i in range(REFERENCE_LENGTH))


@dataclass
class ReportInput:
    title: str
    description: str
    occurred_at: datetime
    categories: list[str] = field(default_factory=list)
    occurred_precision: str = TimePrecision.DAY
    latitude: float | None = None
    longitude: float | None = None
    location_precision: str = LocationPrecision.PLACE
    place_name: str = ""
    channel: str = Channel.WEB
    language: str = "es"
    involves_minors: bool = False
    contact: str = ""
    killed: int | None = None
    injured: int | None = None


# Choice enums build `.values` anew on every access; intake checks these on every report.
_TIME_PRECISIONS = frozenset(TimePrecision.values)
_LOCATION_PRECISIONS = frozenset(LocationPrecision.values)
_CHANNELS = frozenset(Channel.values)


# --- validation --------------------------------------------------------------------------------


def _clean_text(value: str, *, field_name: str, max_length: int, required: bool) -> str:
    # Stored as text exactly as typed (minus control characters); templates escape on output.
    text = value or ""
    if not text.replace("\n", "").replace("\t", "").isprintable():  # the common case skips this
        text = "".join(ch for ch in text if ch in "\n\t" or ch.isprintable())
    text = text.strip()
    if required and not text:
        raise InvalidInput(_("This field is required."), field=field_name)
    if len(text) > max_length:
        raise InvalidInput(_("At most %(max)d characters.") % {"max": max_length}, field=field_name)
    return text


def _validate_point(lat, lon) -> tuple[float | None, float | None]:
    if lat is None and lon is None:
        return None, None
    if lat is None or lon is None:
        raise InvalidInput(_("Give both latitude and longitude, or neither."), field="latitude")
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise InvalidInput(_("Coordinates must be numbers."), field="latitude") from None
    if not (math.isfinite(lat) and -90 <= lat <= 90):
        raise InvalidInput(_("Latitude must be between -90 and 90."), field="latitude")
    if not (math.isfinite(lon) and -180 <= lon <= 180):
        raise InvalidInput(_("Longitude must be between -180 and 180."), field="longitude")
    return lat, lon


def _validate_when(value: datetime, precision: str) -> datetime:
    if precision not in _TIME_PRECISIONS:
        raise InvalidInput(_("Unknown time precision."), field="occurred_precision")
    if value is None:
        raise InvalidInput(_("Say when it happened."), field="occurred_at")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + timedelta(minutes=10):
        raise InvalidInput(_("The date cannot be in the future."), field="occurred_at")
    if value.year < 1990:
        raise InvalidInput(_("The date is too far in the past."), field="occurred_at")
    return value


def _resolve_categories(slugs: list[str]) -> list[Category]:
    slugs = list(dict.fromkeys(slugs or []))
    if len(slugs) > 5:
        raise InvalidInput(_("Choose at most five categories."), field="categories")
    taxonomy = active_categories()
    found = [taxonomy[slug] for slug in slugs if slug in taxonomy]
    unknown = sorted(set(slugs) - {c.slug for c in found})
    if unknown:
        raise InvalidInput(
            _("Unknown category: %(slugs)s") % {"slugs": ", ".join(unknown)},
            field="categories",
            details={"unknown": unknown},
        )
    return found


_TAXONOMY: tuple[float, dict[str, Category]] = (0.0, {})
TAXONOMY_TTL = 30.0


def active_categories() -> dict[str, Category]:
    """slug → active category (with parent), cached per process for TAXONOMY_TTL seconds: the
    taxonomy changes rarely and every intake needs it."""
    global _TAXONOMY
    loaded_at, taxonomy = _TAXONOMY
    if time.monotonic() - loaded_at > TAXONOMY_TTL or not taxonomy:
        rows = Category.objects.select_related("parent").filter(active=True)
        taxonomy = {c.slug: c for c in rows}
        _TAXONOMY = (time.monotonic(), taxonomy)
    return taxonomy


def _count(value, field_name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("Must be a whole number."), field=field_name) from None
    if not 0 <= number <= 10000:
        raise InvalidInput(_("Must be between 0 and 10000."), field=field_name)
    return number


def _apply_location(report: Report) -> None:
    """Derive the public location from the exact one; report.sensitive must be current."""
    if report.latitude is None:
        report.public_latitude = report.public_longitude = report.public_resolution = None
        report.h3_r4 = report.h3_r6 = report.h3_r8 = report.h3_r10 = None
        return
    where = locate(
        report.latitude,
        report.longitude,
        precision=report.location_precision,
        sensitive=report.sensitive,
        place_name=report.place_name,
    )
    report.public_latitude = where.public_latitude
    report.public_longitude = where.public_longitude
    report.public_resolution = where.public_resolution
    report.h3_r4, report.h3_r6 = where.cells[4], where.cells[6]
    report.h3_r8, report.h3_r10 = where.cells[8], where.cells[10]
    report.department_code = where.department_code
    report.municipality_code = where.municipality_code
    report.place_name = where.place_name[:200]


def _is_sensitive(report: Report, categories: list[Category] | None = None) -> bool:
    if categories is None:
        categories = list(report.categories.select_related("parent")) if report.pk else []
    return (
        report.involves_minors
        or report.sensitive_by_moderator
        or any(c.sensitive or (c.parent_id and c.parent.sensitive) for c in categories)
    )


# --- intake ------------------------------------------------------------------------------------


def report_create(
    *, data: ReportInput, intake_key: str | None = None, files: list | None = None
) -> tuple[Report, bool]:
    """Validate and store a new report (status received). Idempotent on `intake_key`:
    returns (report, created); a retry returns the first report and created=False."""
    if intake_key:
        existing = Report.objects.filter(intake_key=intake_key).first()
        if existing:
            return existing, False
    files = files or []
    if len(files) > MAX_FILES:
        raise InvalidInput(_("At most %(n)d files.") % {"n": MAX_FILES}, field="files")
    if data.channel not in _CHANNELS:
        raise InvalidInput(_("Unknown channel."), field="channel")
    if data.location_precision not in _LOCATION_PRECISIONS:
        raise InvalidInput(_("Unknown location precision."), field="location_precision")
    now = timezone.now()
    lat, lon = _validate_point(data.latitude, data.longitude)
    categories = _resolve_categories(data.categories)
    report = Report(
        intake_key=intake_key or None,
        title=_clean_text(data.title, field_name="title", max_length=200, required=True),
        description=_clean_text(
            data.description, field_name="description", max_length=10000, required=True
        ),
        occurred_at=_validate_when(data.occurred_at, data.occurred_precision),
        occurred_precision=data.occurred_precision,
        latitude=lat,
        longitude=lon,
        location_precision=data.location_precision,
        place_name=_clean_text(
            data.place_name, field_name="place_name", max_length=200, required=False
        ),  # fmt: skip
        channel=data.channel,
        language="en" if (data.language or "").startswith("en") else "es",
        involves_minors=bool(data.involves_minors),
        killed=_count(data.killed, "killed"),
        injured=_count(data.injured, "injured"),
        created_at=now,
        updated_at=now,
        status_changed_at=now,
    )
    contact = _clean_text(data.contact, field_name="contact", max_length=200, required=False)
    if contact:
        report.contact_encrypted = seal_text(contact, purpose=CONTACT_PURPOSE)
    report.sensitive = _is_sensitive(report, categories)
    if lat is not None:
        _apply_location(report)
    return _insert(report, categories, files, intake_key)


def _insert(report: Report, categories, files, intake_key) -> tuple[Report, bool]:
    from sereno.reports.media import store_original
    from sereno.reports.tasks import enqueue_media_cleaning

    for _attempt in range(5):
        report.reference = new_reference()
        try:
            if not files and connection.vendor == "postgresql":
                _insert_one_statement(report, [c.pk for c in categories])
                return report, True
            with transaction.atomic():
                report.save(force_insert=True)
                if categories:  # one INSERT (the related manager would SELECT first)
                    Report.categories.through.objects.bulk_create(
                        [Report.categories.through(report=report, category=c) for c in categories]
                    )
                media = [store_original(report=report, upload=upload) for upload in files]
                enqueue_media_cleaning([m.pk for m in media])
            return report, True
        except IntegrityError:
            report.pk = None
            if intake_key:
                existing = Report.objects.filter(intake_key=intake_key).first()
                if existing:  # a concurrent retry of the same submission won the race
                    return existing, False
            if Report.objects.filter(reference=report.reference).exists():
                continue  # 50-bit reference collided: draw another
            raise
    raise Conflict(_("Could not allocate a reference; try again."))


@functools.cache
def _insert_sql() -> tuple[str, tuple]:
    """PostgreSQL: the report row and its category links in one statement (a data-modifying
    CTE), built once from the model so it follows its columns."""
    meta = Report._meta
    fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    through = meta.get_field("categories").remote_field.through._meta
    q = connection.ops.quote_name
    table, pk, links = q(meta.db_table), q(meta.pk.column), q(through.db_table)
    columns = ", ".join(q(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    link_columns = (
        f"{q(through.get_field('report').column)}, {q(through.get_field('category').column)}"
    )
    # Identifiers come from the model and are quoted; every value is a parameter.
    sql = (
        f"WITH r AS (INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING {pk}), "  # noqa: S608
        f"l AS (INSERT INTO {links} ({link_columns}) "
        f"SELECT r.{pk}, c FROM r, unnest(%s::bigint[]) AS c) SELECT {pk} FROM r"
    )
    return sql, fields


def _insert_one_statement(report: Report, category_ids: list[int]) -> None:
    # Outside a transaction the statement commits by itself: one round trip instead of
    # BEGIN, INSERT, INSERT, COMMIT (intake's largest cost). Inside one, a savepoint keeps a
    # failed insert from spoiling the caller's transaction, as the ORM path does.
    sql, fields = _insert_sql()
    conn = connections[DEFAULT_DB_ALIAS]  # the connection itself: every proxy access costs
    params = [f.get_db_prep_save(f.pre_save(report, True), conn) for f in fields]
    with transaction.atomic() if conn.in_atomic_block else contextlib.nullcontext():
        with conn.cursor() as cursor:
            cursor.execute(sql, [*params, category_ids])
            report.pk = cursor.fetchone()[0]
    report._state.adding = False
    report._state.db = conn.alias


# --- moderation --------------------------------------------------------------------------------


def _require(actor, perm: str) -> None:
    if actor is None or not actor.is_active or not actor.has_perm(perm):
        raise NotAllowed(_("You are not allowed to do this."))


def _get(report_id: int, *, for_update: bool = False) -> Report:
    qs = Report.objects.select_for_update() if for_update else Report.objects
    report = qs.filter(pk=report_id).first()
    if report is None:
        raise NotFound(_("No such report."))
    return report


def _locked_by_other(report: Report, actor, now: datetime) -> bool:
    return bool(
        report.locked_by_id
        and report.locked_by_id != actor.pk
        and report.locked_until
        and report.locked_until > now
    )


def report_lock(*, actor, report_id: int) -> Report:
    """Take (or extend) the 5-minute edit lock. Fails if someone else holds it."""
    _require(actor, "reports.moderate_report")
    now = timezone.now()
    free = Q(locked_by__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=actor)
    taken = Report.objects.filter(free, pk=report_id).update(
        locked_by=actor, locked_until=now + timedelta(seconds=settings.LOCK_SECONDS)
    )
    report = _get(report_id)
    if not taken:
        raise Locked(
            _("%(user)s is editing this report.") % {"user": report.locked_by},
            details={"locked_by": str(report.locked_by), "locked_until": report.locked_until},
        )
    return report


def report_unlock(*, actor, report_id: int) -> None:
    Report.objects.filter(pk=report_id, locked_by=actor).update(locked_by=None, locked_until=None)


def report_transition(*, actor, report_id: int, to_status: str, reason: str = "") -> Report:
    _require(actor, "reports.moderate_report")
    if to_status not in TRANSITIONS:
        raise InvalidInput(_("Unknown status."), field="status")
    reason = _clean_text(reason, field_name="reason", max_length=2000, required=False)
    if to_status in REASON_REQUIRED and not reason:
        raise InvalidInput(_("Give a reason."), field="reason")
    now = timezone.now()
    with transaction.atomic(), map_track([report_id]):  # crowdmap: exact map counts
        report = _get(report_id, for_update=True)
        if _locked_by_other(report, actor, now):
            raise Locked(_("%(user)s is editing this report.") % {"user": report.locked_by})
        if report.merged_into_id:
            raise Conflict(_("This report was merged into another one."))
        if report.status not in allowed_sources(to_status):
            raise Conflict(
                _("A %(src)s report cannot become %(dst)s.")
                % {"src": Status(report.status).label, "dst": Status(to_status).label}
            )
        before = report.status
        changes = {"status": to_status, "status_changed_at": now, "updated_at": now}
        if to_status == Status.PUBLISHED and report.published_at is None:
            changes["published_at"] = now
        # Conditional update: a concurrent moderator who changed the status first wins.
        if not Report.objects.filter(pk=report.pk, status=before).update(**changes):
            raise Conflict(_("The report changed meanwhile; reload it."))
        audit_append(
            actor=actor, action=f"report.{to_status}", object_type="report",
            object_id=report.reference, reason=reason, before={"status": before},
            after={"status": to_status},
        )  # fmt: skip
    report.refresh_from_db()
    return report


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def report_bulk_transition(
    *, actor, report_ids: list[int], to_status: str, reason: str = ""
) -> BulkResult:
    """Apply one transition to many reports; locked or ineligible ones are skipped and said so."""
    _require(actor, "reports.moderate_report")
    if len(report_ids) > 500:
        raise InvalidInput(_("At most 500 reports at a time."), field="ids")
    result = BulkResult()
    refs = dict(Report.objects.filter(pk__in=report_ids).values_list("pk", "reference"))
    for report_id in dict.fromkeys(report_ids):
        if report_id not in refs:
            result.skipped[str(report_id)] = str(_("No such report."))
            continue
        try:
            report_transition(actor=actor, report_id=report_id, to_status=to_status, reason=reason)
            result.done.append(refs[report_id])
        except (Conflict, InvalidInput) as error:
            result.skipped[refs[report_id]] = error.message
    return result


EDITABLE = {
    "title", "description", "categories", "occurred_at", "occurred_precision", "latitude",
    "longitude", "location_precision", "place_name", "sensitive_by_moderator", "involves_minors",
    "killed", "injured",
}  # fmt: skip


def _snapshot(report: Report, fields) -> dict:
    snap = {}
    for name in fields:
        if name == "categories":
            snap[name] = sorted(report.categories.values_list("slug", flat=True))
        else:
            snap[name] = getattr(report, name)
    return snap


def report_edit(*, actor, report_id: int, changes: dict, reason: str = "") -> Report:
    """Edit under the lock: takes it if free, refuses if another moderator holds it."""
    _require(actor, "reports.moderate_report")
    unknown = set(changes) - EDITABLE
    if unknown:
        raise InvalidInput(
            _("These fields cannot be edited: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    report_lock(actor=actor, report_id=report_id)
    with transaction.atomic(), map_track([report_id]):  # crowdmap: exact map counts
        report = _get(report_id, for_update=True)
        before = _snapshot(report, changes)
        categories = None
        if "title" in changes:
            report.title = _clean_text(changes["title"], field_name="title", max_length=200,
                                       required=True)  # fmt: skip
        if "description" in changes:
            report.description = _clean_text(
                changes["description"], field_name="description", max_length=10000, required=True
            )
        if "place_name" in changes:
            report.place_name = _clean_text(
                changes["place_name"], field_name="place_name", max_length=200, required=False
            )
        if "occurred_precision" in changes or "occurred_at" in changes:
            report.occurred_precision = changes.get("occurred_precision", report.occurred_precision)
            report.occurred_at = _validate_when(
                changes.get("occurred_at", report.occurred_at), report.occurred_precision
            )
        if "latitude" in changes or "longitude" in changes:
            report.latitude, report.longitude = _validate_point(
                changes.get("latitude", report.latitude), changes.get("longitude", report.longitude)
            )
        if "location_precision" in changes:
            if changes["location_precision"] not in LocationPrecision.values:
                raise InvalidInput(_("Unknown location precision."), field="location_precision")
            report.location_precision = changes["location_precision"]
        for flag in ("sensitive_by_moderator", "involves_minors"):
            if flag in changes:
                setattr(report, flag, bool(changes[flag]))
        for count in ("killed", "injured"):
            if count in changes:
                setattr(report, count, _count(changes[count], count))
        if "categories" in changes:
            categories = _resolve_categories(changes["categories"])
            report.categories.set(categories)
        report.sensitive = _is_sensitive(report, categories)
        _apply_location(report)
        report.updated_at = timezone.now()
        report.save()
        after = _snapshot(report, changes)
        audit_append(
            actor=actor, action="report.edit", object_type="report", object_id=report.reference,
            reason=reason, before=before, after=after,
        )  # fmt: skip
    return report


def report_merge(*, actor, target_id: int, source_ids: list[int], reason: str = "") -> Report:
    """Fold duplicates into one report. Sources are archived, keep their data, and point to the
    target; the target gains their categories."""
    _require(actor, "reports.moderate_report")
    source_ids = [sid for sid in dict.fromkeys(source_ids) if sid != target_id]
    if not source_ids:
        raise InvalidInput(_("Choose at least one duplicate to merge."), field="source_ids")
    now = timezone.now()
    # crowdmap: exact map counts (the target may gain categories, sources leave the map)
    with transaction.atomic(), map_track([target_id, *source_ids]):
        target = _get(target_id, for_update=True)
        sources = list(Report.objects.select_for_update().filter(pk__in=source_ids))
        if len(sources) != len(source_ids):
            raise NotFound(_("No such report."))
        for report in [target, *sources]:
            if _locked_by_other(report, actor, now):
                raise Locked(_("%(user)s is editing this report.") % {"user": report.locked_by})
            if report.merged_into_id:
                raise Conflict(_("Report %(ref)s was already merged.") % {"ref": report.reference})
        if target.status in (Status.REJECTED, Status.ARCHIVED):
            raise Conflict(_("Merge into a report that is received, verified or published."))
        for source in sources:
            before = {"status": source.status, "merged_into": None}
            target.categories.add(*source.categories.all())
            Report.objects.filter(pk=source.pk).update(
                merged_into=target, status=Status.ARCHIVED, status_changed_at=now, updated_at=now
            )
            audit_append(
                actor=actor, action="report.merged", object_type="report",
                object_id=source.reference, reason=reason, before=before,
                after={"status": Status.ARCHIVED, "merged_into": target.reference},
            )  # fmt: skip
        audit_append(
            actor=actor, action="report.merge", object_type="report", object_id=target.reference,
            reason=reason, after={"sources": sorted(s.reference for s in sources)},
        )  # fmt: skip
        Report.objects.filter(pk=target.pk).update(updated_at=now)
    target.refresh_from_db()
    return target


def comment_add(*, actor, report_id: int, body: str) -> Comment:
    _require(actor, "reports.moderate_report")
    body = _clean_text(body, field_name="body", max_length=5000, required=True)
    with transaction.atomic():
        report = _get(report_id)
        comment = Comment.objects.create(report=report, author=actor, body=body)
        audit_append(
            actor=actor, action="report.comment", object_type="report",
            object_id=report.reference, after={"comment": comment.pk},
        )  # fmt: skip
    return comment
