"""Report endpoints: public intake and reading, and the staff moderation API. Views parse,
call one service or selector, and shape the answer."""

import json
import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Query, Router, Status
from pydantic import ValidationError

from sereno.geo import gazetteer
from sereno.lib import ratelimit
from sereno.lib.crypto import unseal_text
from sereno.lib.errors import InvalidInput, NotAllowed, SerenoError
from sereno.reports import selectors, services
from sereno.reports.models import Category, Media, Report
from sereno.reports.schemas import (
    H3_EDGE_M,
    BulkIn,
    BulkOut,
    CommentIn,
    EditIn,
    Filters,
    MergeIn,
    ReportCreated,
    ReportIn,
    StaffFilters,
    TransitionIn,
    category_out,
    language,
    occurred_text,
)

public_router = Router(tags=["public"])
staff_router = Router(tags=["staff"])

JSON_BODY_LIMIT = 64 * 1024


# --- public ------------------------------------------------------------------------------------


@public_router.get("/categories", auth=None)
def categories(request: HttpRequest):
    """The incident taxonomy, names in the request's language."""
    rows = Category.objects.filter(active=True).select_related("parent")
    return [category_out(c) for c in rows]


def _parse_report_body(request: HttpRequest) -> tuple[ReportIn, list]:
    content_type = request.content_type or ""
    if content_type == "application/json":
        if int(request.headers.get("Content-Length") or 0) > JSON_BODY_LIMIT:
            raise TooLarge(_("The report is too large."))
        try:
            raw, files = request.body, []
        except RequestDataTooBig:
            raise TooLarge(_("The report is too large.")) from None
    elif content_type == "multipart/form-data":
        raw = (request.POST.get("data") or "").encode()
        files = request.FILES.getlist("files")
        if not raw:
            raise InvalidInput(_("Send the report as JSON in the form field 'data'."), field="data")
    else:
        raise SerenoUnsupported(_("Send application/json (or multipart/form-data with photos)."))
    if len(raw) > JSON_BODY_LIMIT:  # multipart's JSON part; a plain JSON body is checked early
        raise TooLarge(_("The report is too large."))
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(_("The body is not valid JSON.")) from None
    if not isinstance(payload, dict):
        raise InvalidInput(_("The body must be a JSON object."))
    try:
        return ReportIn.model_validate(payload), files
    except ValidationError as exc:
        from ninja.errors import ValidationError as NinjaValidationError

        raise NinjaValidationError(exc.errors(include_url=False)) from None


class SerenoUnsupported(SerenoError):
    status = 415
    code = "unsupported_media_type"


class TooLarge(SerenoError):
    status = 413
    code = "too_large"


@public_router.post(
    "/reports",
    auth=None,
    response={201: ReportCreated, 200: ReportCreated},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": ReportIn.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "data": {"type": "string", "description": "the report as JSON"},
                            "files": {"type": "array", "items": {"type": "string",
                                                                 "format": "binary"}},
                        },
                    }
                },
            },
            "required": True,
        }
    },
)  # fmt: skip
def report_submit(request: HttpRequest):
    """Submit a report anonymously. Send an `Idempotency-Key` header so that a retry (e.g. from
    an offline queue) returns the first report instead of creating another."""
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > 100:
        raise InvalidInput(_("Idempotency-Key is too long."), field="Idempotency-Key")
    intake_key = f"api:{key}" if key else None
    if intake_key:
        existing = Report.objects.filter(intake_key=intake_key).only("reference", "status").first()
        if existing:
            return Status(200, _created(existing, created=False))
    ratelimit.hit("report", ratelimit.client_key(request), settings.RATE_REPORTS)
    data, files = _parse_report_body(request)
    report, created = services.report_create(
        data=services.ReportInput(
            **data.model_dump(exclude={"language"}),
            language=data.language or language(),
            channel="api",
        ),
        intake_key=intake_key,
        files=files,
    )
    return Status(201 if created else 200, _created(report, created=created))


def _created(report: Report, *, created: bool) -> dict:
    return {
        "reference": report.reference,
        "status": report.status,
        "created": created,
        "message": _(
            "Thank you. Your report was received with reference %(ref)s. A moderator will check "
            "it before anything is published; your contact details are never published."
        )
        % {"ref": report.reference},
    }


def _public_dict(report: Report) -> dict:
    location = None
    if report.public_latitude is not None:
        location = {
            "latitude": report.public_latitude,
            "longitude": report.public_longitude,
            "resolution": report.public_resolution,
            "approximate_radius_m": H3_EDGE_M.get(report.public_resolution, 0),
        }
    place = report.place_name
    if report.sensitive and report.public_latitude is not None:
        # A typed place name can be as revealing as coordinates: show the nearest town instead.
        nearest = gazetteer.nearest_place(report.public_latitude, report.public_longitude)
        place = nearest.name if nearest else ""
    media = [
        {
            "url": reverse("public:media", args=[m.pk]),
            "width": m.width,
            "height": m.height,
        }
        for m in report.media.all()
        if m.state == Media.State.CLEAN
    ]
    return {
        "reference": report.reference,
        "title": report.title,
        "description": report.description,
        "categories": [category_out(c) for c in report.categories.all()],
        "occurred": occurred_text(report),
        "occurred_precision": report.occurred_precision,
        "location": location,
        "place_name": place,
        "department": report.department_code,
        "department_name": gazetteer.department_name(report.department_code),
        "municipality": report.municipality_code,
        "killed": report.killed,
        "injured": report.injured,
        "published_at": report.published_at,
        "merged_reports": getattr(report, "merged_count", 0),
        "media": media,
    }


def _paginate(qs, filters, serialize) -> dict:
    page_size = min(filters.page_size, settings.API_MAX_PAGE_SIZE)
    count = qs.count()
    start = (filters.page - 1) * page_size
    rows = [serialize(r) for r in qs[start : start + page_size]]
    return {
        "count": count,
        "page": filters.page,
        "page_size": page_size,
        "pages": max(1, math.ceil(count / page_size)),
        "results": rows,
    }


def _filters(f: Filters) -> selectors.ReportFilters:
    return selectors.ReportFilters(
        category=f.category, date_from=f.date_from, date_to=f.date_to, department=f.department,
        municipality=f.municipality, bbox=f.bbox,
        status=getattr(f, "status", None), q=getattr(f, "q", None),
    )  # fmt: skip


@public_router.get("/reports", auth=None)
def report_list(request: HttpRequest, filters: Query[Filters]):
    """Published reports, newest first. Page size is capped (no bulk scraping)."""
    ratelimit.hit("public-read", ratelimit.client_key(request), settings.RATE_PUBLIC_READ)
    qs = selectors.public_reports(_filters(filters))
    return _paginate(qs, filters, _public_dict)


@public_router.get("/reports/{reference}", auth=None)
def report_detail(request: HttpRequest, reference: str):
    """One published report (404 until it is published)."""
    ratelimit.hit("public-read", ratelimit.client_key(request), settings.RATE_PUBLIC_READ)
    return _public_dict(selectors.public_report(reference))


# --- staff -------------------------------------------------------------------------------------


def _can(request, perm: str) -> None:
    if not request.auth.has_perm(perm):
        raise NotAllowed(_("You are not allowed to do this."))


def _staff_dict(report: Report, request, *, full: bool = False) -> dict:
    data = _public_dict(report) if full else {
        "reference": report.reference, "title": report.title,
        "categories": [category_out(c) for c in report.categories.all()],
        "occurred": occurred_text(report), "department": report.department_code,
        "municipality": report.municipality_code, "place_name": report.place_name,
    }  # fmt: skip
    data.update(
        status=report.status,
        channel=report.channel,
        language=report.language,
        sensitive=report.sensitive,
        occurred_at=report.occurred_at,
        created_at=report.created_at,
        place_name=report.place_name,
        merged_into=report.merged_into.reference if report.merged_into_id else None,
        merged_reports=getattr(report, "merged_count", 0),
        locked_by=report.locked_by.username if report.locked_by_id else None,
        locked_until=report.locked_until,
    )
    if request.auth.has_perm("reports.view_exact_location"):
        data["exact_location"] = (
            {"latitude": report.latitude, "longitude": report.longitude,
             "precision": report.location_precision}
            if report.latitude is not None else None
        )  # fmt: skip
    if full:
        data["media"] = [
            {"id": m.pk, "name": m.original_name, "type": m.content_type, "size": m.size,
             "sha256": m.sha256, "state": m.state}
            for m in report.media.all()
        ]  # fmt: skip
        data["comments"] = [
            {"author": c.author.username, "body": c.body, "created_at": c.created_at}
            for c in report.comments.all()
        ]
        data["merged_sources"] = [r.reference for r in report.merged_sources.all()]
        data["involves_minors"] = report.involves_minors
        data["sensitive_by_moderator"] = report.sensitive_by_moderator
        if report.contact_encrypted and request.auth.has_perm("reports.view_reporter_contact"):
            data["contact"] = unseal_text(
                report.contact_encrypted, purpose=services.CONTACT_PURPOSE
            )
    return data


def _id(reference: str) -> int:
    return selectors.staff_report(reference).pk


@staff_router.get("/reports")
def staff_report_list(request, filters: Query[StaffFilters]):
    """Reports in every status, with counts per status for the moderation queue."""
    _can(request, "reports.view_report")
    qs = selectors.staff_reports(_filters(filters))
    page = _paginate(qs, filters, lambda r: _staff_dict(r, request))
    page["status_counts"] = selectors.status_counts()
    return page


# Registered before "/reports/{reference}" routes, which would otherwise match "bulk".
@staff_router.post("/reports/bulk", response=BulkOut)
def staff_bulk(request, payload: BulkIn):
    _can(request, "reports.moderate_report")
    ids = dict(
        Report.objects.filter(reference__in=[r.upper() for r in payload.references]).values_list(
            "reference", "pk"
        )
    )
    result = services.report_bulk_transition(
        actor=request.auth, report_ids=list(ids.values()), to_status=payload.status,
        reason=payload.reason,
    )  # fmt: skip
    for ref in payload.references:
        if ref.upper() not in ids:
            result.skipped[ref] = _("No such report.")
    return {"done": result.done, "skipped": result.skipped}


@staff_router.get("/reports/{reference}")
def staff_report_detail(request, reference: str):
    _can(request, "reports.view_report")
    return _staff_dict(selectors.staff_report(reference), request, full=True)


@staff_router.post("/reports/{reference}/transition")
def staff_transition(request, reference: str, payload: TransitionIn):
    _can(request, "reports.moderate_report")
    report = services.report_transition(
        actor=request.auth, report_id=_id(reference), to_status=payload.status,
        reason=payload.reason,
    )  # fmt: skip
    return {"reference": report.reference, "status": report.status}


@staff_router.patch("/reports/{reference}")
def staff_edit(request, reference: str, payload: EditIn):
    _can(request, "reports.moderate_report")
    changes = payload.model_dump(exclude_unset=True, exclude={"reason"})
    report = services.report_edit(
        actor=request.auth, report_id=_id(reference), changes=changes, reason=payload.reason
    )
    return _staff_dict(selectors.staff_report(report.reference), request, full=True)


@staff_router.post("/reports/{reference}/lock")
def staff_lock(request, reference: str):
    _can(request, "reports.moderate_report")
    report = services.report_lock(actor=request.auth, report_id=_id(reference))
    return {"locked_by": request.auth.username, "locked_until": report.locked_until}


@staff_router.delete("/reports/{reference}/lock")
def staff_unlock(request, reference: str):
    _can(request, "reports.moderate_report")
    services.report_unlock(actor=request.auth, report_id=_id(reference))
    return {"locked_by": None}


@staff_router.post("/reports/{reference}/merge")
def staff_merge(request, reference: str, payload: MergeIn):
    _can(request, "reports.moderate_report")
    target_id = _id(reference)
    sources = dict(
        Report.objects.filter(reference__in=[r.upper() for r in payload.sources]).values_list(
            "reference", "pk"
        )
    )
    missing = sorted({r.upper() for r in payload.sources} - set(sources))
    if missing:
        raise InvalidInput(_("No such report: %(refs)s") % {"refs": ", ".join(missing)},
                           field="sources")  # fmt: skip
    with transaction.atomic():
        report = services.report_merge(
            actor=request.auth, target_id=target_id, source_ids=list(sources.values()),
            reason=payload.reason,
        )  # fmt: skip
    return _staff_dict(selectors.staff_report(report.reference), request, full=True)


@staff_router.post("/reports/{reference}/comments", response={201: dict})
def staff_comment(request, reference: str, payload: CommentIn):
    _can(request, "reports.moderate_report")
    comment = services.comment_add(actor=request.auth, report_id=_id(reference), body=payload.body)
    return Status(201, {"id": comment.pk, "body": comment.body, "created_at": comment.created_at})


@staff_router.get("/reports/{reference}/history")
def staff_history(request, reference: str):
    """The report's audit trail: every staff action with who, when, before/after and reason."""
    _can(request, "accounts.view_audit")
    selectors.staff_report(reference)
    return [
        {"seq": e.seq, "at": e.created_at, "actor": e.actor_name, "action": e.action,
         "reason": e.reason, "before": e.before, "after": e.after}
        for e in selectors.report_history(reference)
    ]  # fmt: skip
