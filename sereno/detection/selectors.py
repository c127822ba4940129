"""Reads for detection: the reports it scans and the signals staff see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.db.models import Q, QuerySet
from django.utils import timezone

from sereno.detection.models import DetectionRun, Signal
from sereno.geo.models import Area
from sereno.reports.models import Report, Status


@dataclass
class Points:
    """Verified or published reports of the study period, as columns."""

    latitude: np.ndarray  # NaN where the report has no point
    longitude: np.ndarray
    day: np.ndarray  # local date minus the study's first day
    area: list[str]  # municipality code, else department code, else ""


def detection_points(*, category: str, start: dt.date, end: dt.date) -> Points:
    zone = timezone.get_current_timezone()
    since = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    reports = Report.objects.filter(
        status__in=[Status.VERIFIED, Status.PUBLISHED],
        merged_into__isnull=True,
        occurred_at__gte=since,
        occurred_at__lt=until,
    )
    if category:
        reports = reports.filter(
            Q(categories__slug=category) | Q(categories__parent__slug=category)
        ).distinct()
    rows = list(
        reports.values_list(
            "latitude", "longitude", "public_latitude", "public_longitude", "occurred_at",
            "municipality_code", "department_code",
        )
    )  # fmt: skip
    lat = np.array([r[0] if r[0] is not None else _nan(r[2]) for r in rows], dtype=np.float64)
    lon = np.array([r[1] if r[1] is not None else _nan(r[3]) for r in rows], dtype=np.float64)
    day = np.array([(timezone.localtime(r[4], zone).date() - start).days for r in rows], dtype=int)
    area = [r[5] or r[6] or "" for r in rows]
    return Points(lat, lon, day, area)


def _nan(value):
    return np.nan if value is None else value


def area_names(codes: list[str]) -> dict[str, str]:
    return dict(Area.objects.filter(code__in=codes).values_list("code", "name"))


def signals_for_staff(*, min_recurrence_days: float) -> QuerySet[Signal]:
    """Signals worth a moderator's look: rare enough under the null, not dismissed."""
    return Signal.objects.filter(
        state__in=[Signal.State.NEW, Signal.State.DRAFTED],
        recurrence_days__gte=min_recurrence_days,
    ).order_by("-run_at", "detector", "rank")


def last_run() -> DetectionRun | None:
    return DetectionRun.objects.order_by("-started_at").first()
