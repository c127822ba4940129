"""Reads for the moderation desk that the reports app does not already offer: the review queue's
ordering, who holds which lock, and duplicate suggestions."""

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from sereno.reports.models import Report, Status
from sereno.reports.selectors import ReportFilters, staff_reports

# --- the queue ---------------------------------------------------------------------------------


def desk_queue(filters: ReportFilters) -> QuerySet:
    """staff_reports in review order. The received tab is first come, first served (the report
    that waited longest on top); any other view puts received reports first, then newest."""
    qs = staff_reports(filters)
    if filters.status == [Status.RECEIVED]:
        return qs.order_by("created_at", "id")
    waiting = Case(
        When(status=Status.RECEIVED, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return qs.order_by(waiting, "-created_at", "-id")


def locked_by_others(references: list[str], actor) -> dict[str, str]:
    """reference → username of whoever else holds a live lock on it."""
    rows = (
        Report.objects.filter(
            reference__in=references, locked_until__gt=timezone.now(), locked_by__isnull=False
        )
        .exclude(locked_by=actor)
        .values_list("reference", "locked_by__username")
    )
    return dict(rows)


# --- duplicates --------------------------------------------------------------------------------

DUPLICATE_KM = 1.0
DUPLICATE_DAYS = 3
MIN_SIMILARITY = 0.2
MAX_CANDIDATES = 300  # rows read per suggestion; the window is small (1 km x 6 days)
KM_PER_DEGREE = 111.32
EARTH_KM = 6371.0088

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which incident a report describes.
STOPWORDS = frozenset(
    """a al algo ante con contra de del desde el ella ellos en entre era es esta este esto fue
    ha han hay la las le les lo los mas me mi muy no nos o otra otro para pero por que se ser
    si sin sobre su sus tambien un una uno unos unas y ya yo the and of in on at to was were is
    an by for from with""".split()
)


def fold_words(text: str) -> frozenset[str]:
    """Normalised word set: accents folded, case folded, stopwords and 1–2 letter words out."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return frozenset(w for w in _WORD.findall(text) if len(w) > 2 and w not in STOPWORDS)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass
class Duplicate:
    report: Report
    similarity: float  # word-set Jaccard, 0..1
    distance_km: float | None
    hours_apart: float
    score: float


def _window(report: Report, km: float, days: int) -> QuerySet:
    qs = (
        Report.objects.filter(
            merged_into__isnull=True,
            occurred_at__gte=report.occurred_at - timedelta(days=days),
            occurred_at__lte=report.occurred_at + timedelta(days=days),
        )
        .exclude(pk=report.pk)
        .exclude(status=Status.REJECTED)
    )
    if report.latitude is None:
        # No point to compare: the same department, when known, stands in for "near".
        if not report.department_code:
            return qs.none()
        return qs.filter(department_code=report.department_code)
    dlat = km / KM_PER_DEGREE
    dlon = km / (KM_PER_DEGREE * max(math.cos(math.radians(report.latitude)), 0.01))
    return qs.filter(
        latitude__gte=report.latitude - dlat,
        latitude__lte=report.latitude + dlat,
        longitude__gte=report.longitude - dlon,
        longitude__lte=report.longitude + dlon,
    )


def duplicate_candidates(
    report: Report,
    *,
    km: float = DUPLICATE_KM,
    days: int = DUPLICATE_DAYS,
    min_similarity: float = MIN_SIMILARITY,
    limit: int = 5,
) -> list[Duplicate]:
    """Other non-merged, non-rejected reports within `km` and ±`days` of `report` whose text
    (title + description) shares at least `min_similarity` of its words; best first.

    Score: 60 % text similarity, 20 % nearness in space, 20 % nearness in time."""
    if report.merged_into_id:
        return []
    words = fold_words(f"{report.title} {report.description}")
    rows = (
        _window(report, km, days)
        .only(
            "id", "reference", "title", "description", "status", "occurred_at", "latitude",
            "longitude", "department_code", "created_at",
        )
        .order_by("-created_at")[:MAX_CANDIDATES]
    )  # fmt: skip
    found = []
    for other in rows:
        similarity = jaccard(words, fold_words(f"{other.title} {other.description}"))
        if similarity < min_similarity:
            continue
        distance = None
        if report.latitude is not None and other.latitude is not None:
            distance = distance_km(report.latitude, report.longitude, other.latitude,
                                   other.longitude)  # fmt: skip
            if distance > km:  # the box's corners lie outside the circle
                continue
        hours = abs((other.occurred_at - report.occurred_at).total_seconds()) / 3600
        near = 0.5 if distance is None else 1 - distance / km
        score = 0.6 * similarity + 0.2 * near + 0.2 * (1 - hours / (days * 24))
        found.append(Duplicate(other, round(similarity, 2), distance, round(hours, 1), score))
    found.sort(key=lambda d: (-d.score, d.report.pk))
    return found[:limit]
