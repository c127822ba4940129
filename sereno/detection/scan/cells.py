"""Sereno's locations for the scan: H3 cells of the reports' points, at the cells' centres."""

import h3
import numpy as np

from .model import ScanInput


def cells_input(
    latitude: np.ndarray, longitude: np.ndarray, day: np.ndarray, n_days: int, resolution: int
) -> ScanInput:
    """Reports without a point are left out (the municipal CUSUM still counts them)."""
    has_point = np.isfinite(latitude) & np.isfinite(longitude)
    lat, lon = latitude[has_point], longitude[has_point]
    cells = [h3.latlng_to_cell(a, b, resolution) for a, b in zip(lat, lon, strict=True)]
    ids, location = np.unique(np.array(cells, dtype=object), return_inverse=True)
    coords = np.array([h3.cell_to_latlng(c) for c in ids], dtype=np.float64).reshape(-1, 2)
    return ScanInput(list(ids), coords, location.astype(np.int64), day[has_point], n_days)
