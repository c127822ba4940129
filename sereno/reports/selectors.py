"""Reads of reports: the public view (published, snapped) and the staff view."""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.accounts.models import AuditEntry
from sereno.lib.errors import InvalidInput, NotFound
from sereno.reports.models import Category, Report, Status


@dataclass
class ReportFilters:
    category: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None
    department: str | None = None
    municipality: str | None = None
    bbox: str | None = None
    status: list[str] | None = None
    q: str | None = None


def parse_bbox(value: str) -> tuple[float, float, float, float]:
    """'min_lon,min_lat,max_lon,max_lat' as in GeoJSON and OGC APIs."""
    try:
        west, south, east, north = (float(part) for part in value.split(","))
    except ValueError:
        raise InvalidInput(_("bbox must be four numbers: west,south,east,north."),
                           field="bbox") from None  # fmt: skip
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(_("bbox is out of range."), field="bbox")
    return west, south, east, north


def category_with_descendants(slugs: list[str]) -> list[int]:
    ids = set(Category.objects.filter(slug__in=slugs).values_list("id", flat=True))
    frontier = set(ids)
    while frontier:  # the taxonomy is shallow: one query per level
        frontier = (
            set(Category.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - ids
        )
        ids |= frontier
    return sorted(ids)


def _categories() -> Prefetch:
    return Prefetch("categories", queryset=Category.objects.select_related("parent"))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filter_when_and_where(
    qs: QuerySet, date_from: date | None, date_to: date | None, department: str | None,
    municipality: str | None,
) -> QuerySet:  # fmt: skip
    """Local days of occurrence (inclusive) and administrative area: shared by the report list
    and the map, so both count the same reports for the same filters."""
    if date_from:
        qs = qs.filter(occurred_at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(occurred_at__lt=_day_start(date_to) + timezone.timedelta(days=1))
    if department:
        qs = qs.filter(department_code=department)
    if municipality:
        qs = qs.filter(municipality_code=municipality)
    return qs


def filter_reports(qs: QuerySet, filters: ReportFilters, *, public: bool) -> QuerySet:
    if filters.category:
        ids = category_with_descendants(filters.category)
        if not ids:
            raise InvalidInput(_("Unknown category."), field="category")
        qs = qs.filter(pk__in=Report.categories.through.objects.filter(
            category_id__in=ids).values("report_id"))  # fmt: skip
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput(_("date_from is after date_to."), field="date_from")
    qs = filter_when_and_where(
        qs, filters.date_from, filters.date_to, filters.department, filters.municipality
    )
    if filters.bbox:
        west, south, east, north = parse_bbox(filters.bbox)
        lat, lon = ("public_latitude", "public_longitude") if public else ("latitude", "longitude")
        qs = qs.filter(**{f"{lat}__gte": south, f"{lat}__lte": north})
        if west <= east:
            qs = qs.filter(**{f"{lon}__gte": west, f"{lon}__lte": east})
        else:  # crosses the antimeridian
            qs = qs.filter(Q(**{f"{lon}__gte": west}) | Q(**{f"{lon}__lte": east}))
    if filters.status and not public:
        unknown = set(filters.status) - set(Status.values)
        if unknown:
            raise InvalidInput(_("Unknown status."), field="status")
        qs = qs.filter(status__in=filters.status)
    if filters.q and not public:
        qs = qs.filter(Q(title__icontains=filters.q) | Q(description__icontains=filters.q)
                       | Q(reference=filters.q.upper()))  # fmt: skip
    return qs


def public_reports(filters: ReportFilters) -> QuerySet:
    qs = Report.objects.filter(status=Status.PUBLISHED)
    return (
        filter_reports(qs, filters, public=True)
        .prefetch_related(_categories(), "media")
        .annotate(merged_count=Count("merged_sources"))
        .order_by("-occurred_at", "-id")
    )


def public_report(reference: str) -> Report:
    report = (
        Report.objects.filter(reference=reference.upper(), status=Status.PUBLISHED)
        .prefetch_related(_categories(), "media")
        .annotate(merged_count=Count("merged_sources"))
        .first()
    )
    if report is None:
        raise NotFound(_("No published report with this reference."))
    return report


def staff_reports(filters: ReportFilters) -> QuerySet:
    return (
        filter_reports(Report.objects.all(), filters, public=False)
        .select_related("locked_by", "merged_into")
        .prefetch_related(_categories())
        .annotate(merged_count=Count("merged_sources"))
        .order_by("-created_at", "-id")
    )


def staff_report(reference: str) -> Report:
    report = (
        Report.objects.filter(reference=reference.upper())
        .select_related("locked_by", "merged_into")
        .prefetch_related(_categories(), "media", "comments__author", "merged_sources")
        .annotate(merged_count=Count("merged_sources"))
        .first()
    )
    if report is None:
        raise NotFound(_("No such report."))
    return report


def status_counts() -> dict[str, int]:
    counts = dict(Report.objects.values_list("status").annotate(n=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Status.values}


def report_history(reference: str) -> QuerySet:
    return AuditEntry.objects.filter(object_type="report", object_id=reference.upper()).order_by(
        "seq"
    )
