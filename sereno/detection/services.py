"""Writes for detection: run the detectors and store their signals; staff decisions on them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import time

import numpy as np
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.detection import conf, selectors
from sereno.detection.models import DetectionRun, Detector, Signal
from sereno.detection.scan import ScanParams, scan
from sereno.detection.scan.cells import cells_input
from sereno.detection.scan.cusum import arl0, cusum, poisson_llr
from sereno.detection.scan.model import EARTH_RADIUS_KM
from sereno.lib.errors import NotAllowed

log = logging.getLogger(__name__)

MODERATE = "reports.moderate_report"
# Secondary clusters this weak are noise; the most likely cluster is always kept.
STORE_MAX_P = 0.5


def detection_run(*, today: dt.date | None = None) -> DetectionRun:
    """Run both detectors over each configured category and store what they find."""
    today = today or timezone.localdate()
    days = conf.get("DETECT_STUDY_DAYS")
    start = today - dt.timedelta(days=days - 1)
    params = _scan_params()
    run = DetectionRun.objects.create(
        started_at=timezone.now(),
        study_start=start,
        study_end=today,
        parameters={**params.__dict__, "categories": conf.get("DETECT_CATEGORIES")},
    )
    began = time.perf_counter()
    try:
        found = 0
        for category in conf.get("DETECT_CATEGORIES") or [""]:
            points = selectors.detection_points(category=category, start=start, end=today)
            run.cases += int(points.day.size)
            found += _spacetime(run, params, category, points, start, days)
            found += _cusum(run, category, points, start, days)
        run.state = DetectionRun.State.DONE
        run.signals_found = found
    except Exception as error:
        run.state = DetectionRun.State.FAILED
        run.error = type(error).__name__
        log.exception("detection run %s failed", run.pk)
    run.finished_at = timezone.now()
    run.duration_seconds = time.perf_counter() - began
    run.save()
    return run


def _scan_params() -> ScanParams:
    return ScanParams(
        max_spatial_share=conf.get("DETECT_MAX_SHARE"),
        max_km=conf.get("DETECT_MAX_KM"),
        max_window_days=conf.get("DETECT_MAX_WINDOW_DAYS"),
        min_cases=conf.get("DETECT_MIN_CASES"),
        replicates=conf.get("DETECT_REPLICATES"),
        early_stop=conf.get("DETECT_EARLY_STOP"),
        seed=conf.get("DETECT_SEED") or secrets.randbits(32),
        workers=conf.get("DETECT_WORKERS"),
    )


def _spacetime(run, params, category, points, start, n_days) -> int:
    resolution = conf.get("DETECT_H3_RESOLUTION")
    inp = cells_input(points.latitude, points.longitude, points.day, n_days, resolution)
    if inp.total_cases < 2:
        return 0
    result = scan(inp, params)
    run.replicates_done += result.replicates_done
    end = start + dt.timedelta(days=n_days - 1)
    stored = 0
    with transaction.atomic():
        for cluster in result.clusters:
            if cluster.rank > 1 and (cluster.p_value or 1) > STORE_MAX_P:
                continue
            lat, lon = inp.coords[cluster.centre]
            _store(
                run, Detector.SPACETIME, category,
                locations=[inp.location_ids[m] for m in cluster.members],
                lat=float(lat), lon=float(lon), radius_km=cluster.radius_km,
                start_date=end - dt.timedelta(days=cluster.window_days - 1), end_date=end,
                cases=cluster.cases, expected=cluster.expected, llr=cluster.llr,
                p_value=cluster.p_value, recurrence_days=cluster.recurrence_days,
                rank=cluster.rank,
            )  # fmt: skip
            stored += 1
    return stored


def _cusum(run, category, points, start, n_days) -> int:
    codes = sorted({a for a in points.area if a})
    if not codes:
        return 0
    index = {code: i for i, code in enumerate(codes)}
    area = np.array([index.get(a, -1) for a in points.area])
    known = area >= 0
    counts = np.zeros((len(codes), n_days), dtype=np.int64)
    np.add.at(counts, (area[known], points.day[known]), 1)
    k, h = conf.get("DETECT_CUSUM_K"), conf.get("DETECT_CUSUM_H")
    surges = cusum(
        counts, baseline=conf.get("DETECT_CUSUM_BASELINE_DAYS"),
        monitor=conf.get("DETECT_CUSUM_MONITOR_DAYS"), k=k, h=h,
        min_cases=conf.get("DETECT_CUSUM_MIN_CASES"),
    )  # fmt: skip
    names = selectors.area_names([codes[s.area] for s in surges])
    surges.sort(key=lambda s: -s.statistic)
    with transaction.atomic():
        for rank, surge in enumerate(surges, 1):
            code = codes[surge.area]
            lat, lon, radius = _extent(points, area == surge.area)
            _store(
                run, Detector.CUSUM, category, locations=[code], area_name=names.get(code, ""),
                lat=lat, lon=lon, radius_km=radius,
                start_date=start + dt.timedelta(days=surge.first_day),
                end_date=start + dt.timedelta(days=n_days - 1),
                cases=surge.cases, expected=surge.expected,
                llr=poisson_llr(surge.cases, surge.expected), p_value=None,
                recurrence_days=arl0(k, h), rank=rank,
            )  # fmt: skip
    return len(surges)


def _extent(points: selectors.Points, mask: np.ndarray) -> tuple[float, float, float]:
    """Centre and radius (km) covering an area's reports: the circle an alert would use."""
    lat, lon = points.latitude[mask], points.longitude[mask]
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return 0.0, 0.0, 0.0
    lat, lon = lat[ok], lon[ok]
    c_lat, c_lon = float(lat.mean()), float(lon.mean())
    dy = np.radians(lat - c_lat)
    dx = np.radians(lon - c_lon) * np.cos(np.radians(c_lat))
    return c_lat, c_lon, max(1.0, float(np.hypot(dx, dy).max() * EARTH_RADIUS_KM))


def _store(
    run, detector, category, *, locations, lat, lon, start_date, end_date, area_name="", **stats
) -> Signal:
    """Insert, or refresh the signal of a cluster found again or still going on."""
    key = hashlib.sha256(json.dumps(sorted(locations)).encode()).hexdigest()
    now = timezone.now()
    values = {
        **stats,
        "run": run,
        "run_at": run.started_at,
        "locations": locations,
        "area_name": area_name,
        "centre_latitude": lat,
        "centre_longitude": lon,
        "observed_over_expected": stats["cases"] / stats["expected"] if stats["expected"] else 0.0,
        "updated_at": now,
    }
    same = {"detector": detector, "category": category, "locations_key": key,
            "start_date": start_date, "end_date": end_date}  # fmt: skip
    signal = Signal.objects.filter(**same).first() or _ongoing(
        detector, category, set(locations), start_date, end_date
    )
    if signal is None:
        return Signal.objects.create(**same, **values, created_at=now)
    # Found again (a second run the same day), or the same cluster still going on: one signal
    # that follows it, its figures and time frame today's, its first sighting (created_at)
    # and a moderator's decision kept (only these fields are written). A dismissed cluster is
    # not put before moderators again every day.
    changed = {**values, **same}
    for field, value in changed.items():
        setattr(signal, field, value)
    signal.save(update_fields=list(changed))
    return signal


def _ongoing(detector, category, locations: set, start_date, end_date) -> Signal | None:
    """A signal an earlier run stored for a cluster this one continues: the same detector and
    category, at least one location in common, and a time frame that reached the day before
    this one's start or later (a cluster that stopped for longer is a new one). The latest
    such signal, then the one sharing most locations."""
    earlier = Signal.objects.filter(
        detector=detector,
        category=category,
        end_date__lt=end_date,
        end_date__gte=start_date - dt.timedelta(days=1),
    )
    best, best_rank = None, None
    for signal in earlier:  # the signals of the last few days (the longest time window)
        common = len(locations.intersection(signal.locations))
        rank = (signal.end_date, common, -signal.pk)
        if common and (best_rank is None or rank > best_rank):
            best, best_rank = signal, rank
    return best


def _check(actor) -> None:
    if actor is None or not actor.has_perm(MODERATE):
        raise NotAllowed(_("You are not allowed to handle signals."))


def signal_set_state(*, actor, signal: Signal, state: str) -> Signal:
    """Dismiss a signal, or record that an alert was drafted from it (audited)."""
    _check(actor)
    with transaction.atomic():
        before = signal.state
        Signal.objects.filter(pk=signal.pk).update(
            state=state, state_changed_by=actor, updated_at=timezone.now()
        )
        audit_append(
            actor=actor, action=f"detection.signal_{state}", object_type="signal",
            object_id=str(signal.pk), before={"state": before}, after={"state": state},
        )  # fmt: skip
    signal.refresh_from_db()
    return signal
