"""SaTScan's files: case (.cas), coordinates (.geo), parameters (.prm); SaTScan-style results."""

from __future__ import annotations

import configparser
import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .model import ScanInput, ScanParams, ScanResult


class SatscanError(ValueError):
    pass


def parse_date(text: str) -> dt.date:
    try:
        year, month, day = (int(part) for part in text.strip().replace("-", "/").split("/"))
        return dt.date(year, month, day)
    except (TypeError, ValueError) as error:
        raise SatscanError(f"not a date (YYYY/MM/DD): {text!r}") from error


def read_geo(path: Path) -> tuple[list[str], np.ndarray]:
    ids, coords = [], []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise SatscanError(f"{path}:{number}: expected 'id lat lon'")
        try:
            coords.append((float(fields[1]), float(fields[2])))
        except ValueError as error:
            raise SatscanError(f"{path}:{number}: coordinates are not numbers") from error
        ids.append(fields[0])
    if len(set(ids)) != len(ids):
        raise SatscanError(f"{path}: a location id appears twice")
    return ids, np.array(coords, dtype=np.float64).reshape(-1, 2)


def read_cas(path: Path) -> list[tuple[str, int, dt.date]]:
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise SatscanError(f"{path}:{number}: expected 'id count date'")
        try:
            count = int(fields[1])
        except ValueError as error:
            raise SatscanError(f"{path}:{number}: count is not a whole number") from error
        if count < 0:
            raise SatscanError(f"{path}:{number}: negative count")
        rows.append((fields[0], count, parse_date(fields[2])))
    return rows


@dataclass(frozen=True)
class Study:
    start: dt.date | None = None
    end: dt.date | None = None
    geographic: bool = True
    max_temporal_share: float | None = 0.5  # of the study period, unless max_window_days is set
    max_window_days: int | None = None


def read_prm(path: Path, params: ScanParams) -> tuple[Study, ScanParams]:
    """The settings of a SaTScan parameter file that this scan implements."""
    parser = configparser.ConfigParser(comment_prefixes=(";",), strict=False)
    parser.optionxform = str
    parser.read_string(Path(path).read_text(errors="replace"))
    flat = {
        key: value.strip()
        for section in parser.sections()
        for key, value in parser[section].items()
    }
    get = flat.get
    study = Study(
        start=parse_date(get("StartDate")) if get("StartDate") else None,
        end=parse_date(get("EndDate")) if get("EndDate") else None,
        geographic=get("CoordinatesType", "1") == "1",
    )
    if get("MaxTemporalSizeInterpretation", "0") == "1":
        study = replace(study, max_temporal_share=None, max_window_days=int(get("MaxTemporalSize")))
    else:
        study = replace(study, max_temporal_share=float(get("MaxTemporalSize", "50")) / 100)
    max_km = None
    if get("UseDistanceFromCenterOption", "n").lower() == "y":
        max_km = float(get("MaxSpatialSizeInDistanceFromCenter"))
    params = replace(
        params,
        max_spatial_share=float(get("MaxSpatialSizeInPopulationAtRisk", "50")) / 100,
        max_km=max_km,
        min_cases=int(get("MinimumCasesInHighRateClusters", params.min_cases)),
        replicates=int(get("MonteCarloReps", params.replicates)),
        early_stop=int(get("EarlyTerminationThreshold", params.early_stop)),
    )
    return study, params


def build_input(
    ids: list[str],
    coords: np.ndarray,
    rows,
    start: dt.date | None,
    end: dt.date | None,
    geographic=True,
) -> tuple[ScanInput, dt.date]:
    if not rows:
        raise SatscanError("the case file has no cases")
    start = start or min(r[2] for r in rows)
    end = end or max(r[2] for r in rows)
    if end < start:
        raise SatscanError("the study period ends before it starts")
    index = {loc: i for i, loc in enumerate(ids)}
    unknown = sorted({r[0] for r in rows} - index.keys())
    if unknown:
        raise SatscanError(f"case file locations missing from the coordinates file: {unknown[:5]}")
    kept = [r for r in rows if start <= r[2] <= end and r[1] > 0]
    locations = np.array([index[r[0]] for r in kept for _ in range(r[1])], dtype=np.int64)
    days = np.array([(r[2] - start).days for r in kept for _ in range(r[1])], dtype=np.int64)
    n_days = (end - start).days + 1
    return ScanInput(ids, coords, locations, days, n_days, geographic), start


def window_days(study: Study, n_days: int) -> int:
    if study.max_window_days is not None:
        return study.max_window_days
    return max(1, math.floor((study.max_temporal_share or 0.5) * n_days))


def report(result: ScanResult, inp: ScanInput, params: ScanParams, start: dt.date) -> str:
    end = start + dt.timedelta(days=inp.n_days - 1)
    lines = [
        "Prospective Space-Time analysis",
        "scanning for clusters with high rates",
        "using the Space-Time Permutation model.",
        "_" * 79,
        "",
        "SUMMARY OF DATA",
        "",
        f"Study period.......................: {_d(start)} to {_d(end)}",
        f"Number of locations................: {inp.n_locations}",
        f"Total number of cases..............: {inp.total_cases}",
        "_" * 79,
        "",
        "CLUSTERS DETECTED",
        "",
    ]
    for cluster in result.clusters:
        ids = ", ".join(inp.location_ids[m] for m in cluster.members)
        lat, lon = inp.coords[cluster.centre]
        first = end - dt.timedelta(days=cluster.window_days - 1)
        rows = [
            ("Location IDs included", ids),
            (
                "Coordinates / radius",
                f"({_coord(lat, 'N', 'S')}, {_coord(lon, 'E', 'W')}) / {_km(cluster.radius_km)}",
            ),
            ("Time frame", f"{_d(first)} to {_d(end)}"),
            ("Number of cases", str(cluster.cases)),
            ("Expected cases", f"{cluster.expected:.2f}"),
            ("Observed / expected", f"{cluster.observed_over_expected:.2f}"),
            ("Test statistic", f"{cluster.llr:.6f}"),
            ("P-value", f"{cluster.p_value:.3f}" if cluster.p_value is not None else "-"),
            ("Recurrence interval", _ri(cluster.recurrence_days)),
        ]
        for i, (label, value) in enumerate(rows):
            prefix = f"{cluster.rank}." if i == 0 else " " * (len(str(cluster.rank)) + 1)
            lines.append(f"{prefix}{label:.<22}: {value}")
        lines.append("")
    if not result.clusters:
        lines.append("No clusters were found.")
    lines += [
        "_" * 79,
        "",
        "PARAMETER SETTINGS",
        "",
        f"Maximum spatial cluster size.......: {params.max_spatial_share:.0%} of cases"
        + (f", at most {params.max_km:g} km" if params.max_km is not None else ""),
        f"Maximum temporal cluster size......: {params.max_window_days} days",
        f"Minimum cases in cluster...........: {params.min_cases}",
        f"Monte Carlo replications...........: {result.replicates_done} of {params.replicates}"
        + (f" (early stop at {params.early_stop})" if params.early_stop else ""),
        f"Random seed........................: {params.seed}",
    ]
    return "\n".join(lines) + "\n"


def _d(day: dt.date) -> str:
    return f"{day.year}/{day.month}/{day.day}"


def _coord(value: float, positive: str, negative: str) -> str:
    return f"{abs(value):.6f} {positive if value >= 0 else negative}"


def _ri(days: float | None) -> str:
    if days is None:
        return "-"
    if days >= 365:
        return f"{days / 365.25:.1f} years"
    return f"{days:.0f} day" + ("" if round(days) == 1 else "s")


def _km(radius: float) -> str:
    """As SaTScan prints it: "2.90 km", and "0 km" for a single location."""
    return f"{radius:.2f} km" if radius > 0 else "0 km"
