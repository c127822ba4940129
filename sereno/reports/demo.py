"""Synthetic Honduran incident reports for demos and benchmarks (`sereno demo --reports N`).

Everything is drawn from one seeded generator, column by column with numpy, and written with
the database's bulk path (SQLite: executemany in large transactions; PostgreSQL: COPY): a
million reports load in minutes, not hours. Only the references come from the operating system's
randomness, like `new_reference()`'s, so loading twice never collides.
"""

import secrets
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import h3
import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from sereno.geo.services import PUBLIC_RESOLUTION, public_point
from sereno.reports import demo_texts as T
from sereno.reports.models import Category, Report
from sereno.reports.services import REFERENCE_ALPHABET, REFERENCE_LENGTH

CHUNK = 50_000
# From this many reports, and when they are at least as many as those already there, the
# indexes are built once at the end instead of row by row.
REBUILD_INDEXES_AT = 100_000
MIN_WEIGHT_POPULATION = 1_000
KM_PER_DEGREE = 111.32
# Weight of a place = population ** this: violence concentrates in the big cities (San Pedro
# Sula and the Distrito Central get about two reports in five).
URBAN_EXPONENT = 1.2

# Share of reports whose first category is this one (renormalised over those that exist).
CATEGORY_WEIGHTS = {
    "robo-asalto": 23, "extorsion": 20, "homicidio": 13, "amenazas": 10,
    "violencia-domestica": 10, "sicariato": 5, "violencia-sexual": 4, "desaparicion": 4,
    "abuso-policial": 3.5, "desplazamiento-forzado": 3, "corrupcion": 3, "masacre": 0.5,
}  # fmt: skip
# A second category that often goes with the first one.
COMPANIONS = {
    "robo-asalto": ["amenazas", "homicidio"], "extorsion": ["amenazas", "desplazamiento-forzado"],
    "homicidio": ["sicariato", "desaparicion"], "sicariato": ["homicidio", "extorsion"],
    "masacre": ["homicidio"], "violencia-domestica": ["violencia-sexual", "amenazas"],
    "violencia-sexual": ["violencia-domestica"], "desaparicion": ["homicidio", "amenazas"],
    "desplazamiento-forzado": ["amenazas", "extorsion"],
    "amenazas": ["extorsion", "desplazamiento-forzado"],
    "abuso-policial": ["corrupcion", "amenazas"], "corrupcion": ["abuso-policial"],
}  # fmt: skip
SECOND_CATEGORY_SHARE = 0.12
MINORS_SHARE = {"violencia-sexual": 0.35, "violencia-domestica": 0.15, "desaparicion": 0.1}
MINORS_DEFAULT = 0.015
LETHAL = ("homicidio", "sicariato", "masacre")

GROUP = {
    "homicidio": "lethal", "sicariato": "lethal", "masacre": "lethal", "robo-asalto": "street",
    "extorsion": "business", "corrupcion": "business", "violencia-domestica": "home",
    "violencia-sexual": "home",
}  # fmt: skip
# Relative frequency by local hour 0..23 and by weekday Monday..Sunday.
HOURLY = {
    "lethal": [9, 8, 7, 5, 3, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 5, 7, 8, 9, 10, 10, 10],
    "street": [3, 2, 1, 1, 1, 3, 6, 7, 5, 4, 4, 5, 5, 4, 4, 5, 6, 8, 9, 9, 7, 5, 4, 3],
    "business": [1, 0.5, 0.5, 0.5, 0.5, 1, 3, 6, 8, 9, 9, 8, 7, 8, 8, 7, 6, 4, 3, 2, 2, 1, 1, 1],
    "home": [6, 5, 4, 3, 2, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 5, 7, 8, 9, 9, 8, 7],
    "general": [2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4, 4, 3, 3, 2],
}
WEEKLY = {
    "lethal": [0.85, 0.8, 0.82, 0.88, 1.1, 1.35, 1.3],
    "street": [0.95, 0.9, 0.92, 0.95, 1.15, 1.2, 1.0],
    "business": [1.1, 1.1, 1.1, 1.1, 1.05, 0.85, 0.6],
    "home": [0.85, 0.8, 0.8, 0.85, 1.05, 1.35, 1.4],
    "general": [0.95, 0.95, 0.95, 0.95, 1.0, 1.1, 1.05],
}
MONTHLY = {12: 1.2, 1: 1.05}  # end-of-year bonuses and parties

CHANNELS = {"web": 34, "whatsapp": 26, "sms": 20, "telegram": 5, "odk": 7, "email": 3,
            "staff": 3, "api": 2}  # fmt: skip
STATUSES = {"published": 70, "received": 15, "verified": 10, "rejected": 3, "archived": 2}
CLUSTER_STATUSES = {"published": 55, "verified": 25, "received": 20}
TIME_PRECISIONS = {"exact": 60, "day": 36, "month": 4}
LOCATION_PRECISIONS = {"exact": 45, "place": 45, "municipality": 8, "department": 2}


@dataclass(frozen=True)
class ClusterSpec:
    """An injected space-time cluster, so that detection has something real to find."""

    category: str
    companion: str
    town: str
    days: int
    radius_km: float
    share: float
    minimum: int


CLUSTERS = [
    ClusterSpec("extorsion", "amenazas", "San Pedro Sula", 10, 0.4, 0.004, 10),
    ClusterSpec("homicidio", "sicariato", "Tegucigalpa", 7, 0.9, 0.002, 8),
    ClusterSpec("desplazamiento-forzado", "amenazas", "Choloma", 14, 0.6, 0.0015, 6),
    ClusterSpec("robo-asalto", "amenazas", "La Ceiba", 10, 0.5, 0.002, 8),
]


@dataclass
class Cluster:
    category: str
    place: str
    latitude: float
    longitude: float
    start: date
    end: date
    reports: int
    radius_km: float  # every report of the cluster is within this distance of its centre


@dataclass
class LoadResult:
    created: int = 0
    seconds: float = 0.0
    skipped: bool = False
    clusters: list[Cluster] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Progress = Callable[[int, int, float], None]


def load(
    *,
    reports: int,
    seed: int = 1,
    days: int = 365,
    if_empty: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> LoadResult:
    """Generate `reports` synthetic reports over the last `days` days and bulk-insert them."""
    started = time.perf_counter()
    if if_empty and Report.objects.exists():
        return LoadResult(skipped=True)
    if reports <= 0:
        return LoadResult()
    frame = generate(reports, seed=seed, days=max(1, days), now=now or timezone.now())
    _write(frame, progress=progress, started=started)
    from sereno.crowdmap.services import map_rebuild  # crowdmap: the map counts them too

    map_rebuild()
    return LoadResult(
        created=reports,
        seconds=time.perf_counter() - started,
        clusters=frame.clusters,
        notes=frame.notes,
    )


# --- generation --------------------------------------------------------------------------------


@dataclass
class Frame:
    n: int
    columns: dict[str, list | np.ndarray]
    second_category: np.ndarray  # category id or 0
    first_category: np.ndarray
    clusters: list[Cluster]
    notes: list[str]


def _weights(
    table: dict[str, float], keys: list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    keys = list(table) if keys is None else keys
    p = np.array([table[k] for k in keys], dtype=float)
    return keys, p / p.sum()


def _choice(rng, table: dict[str, float], size: int) -> tuple[list[str], np.ndarray]:
    keys, p = _weights(table)
    return keys, rng.choice(len(keys), size=size, p=p)


def _places():
    from sereno.geo import gazetteer

    places = [p for p in gazetteer.places() if p.department_code]
    if not places:
        raise RuntimeError("the gazetteer has no places")
    return places


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _sigma_km(population: np.ndarray) -> np.ndarray:
    # A village's reports stay within a kilometre; a city's spread over several.
    return np.minimum(0.5 + 1.3 * np.sqrt(population / 100_000), 6.0)


def _hubs(rng, places, plat, plon, pop):
    """Each place is a diffuse spread plus, for towns, a few hot neighbourhoods."""
    sigma = _sigma_km(pop)
    weight = np.maximum(pop, MIN_WEIGHT_POPULATION) ** URBAN_EXPONENT
    hub_place, hub_lat, hub_lon, hub_sigma, hub_weight = [], [], [], [], []
    for i in range(len(places)):
        hot = 0 if pop[i] < 20_000 else int(min(8, 2 + pop[i] // 150_000))
        shares = rng.dirichlet(np.ones(hot)) * 0.5 if hot else np.zeros(0)
        hub_place.append(i)
        hub_lat.append(plat[i])
        hub_lon.append(plon[i])
        hub_sigma.append(sigma[i])
        hub_weight.append(weight[i] * (1 - shares.sum()))
        for share in shares:
            dy, dx = rng.normal(0, sigma[i] * 0.8, 2)
            hub_place.append(i)
            hub_lat.append(plat[i] + dy / KM_PER_DEGREE)
            hub_lon.append(plon[i] + dx / (KM_PER_DEGREE * np.cos(np.radians(plat[i]))))
            hub_sigma.append(sigma[i] * rng.uniform(0.15, 0.35))
            hub_weight.append(weight[i] * share)
    w = np.array(hub_weight)
    return (np.array(hub_place), np.array(hub_lat), np.array(hub_lon), np.array(hub_sigma),
            w / w.sum())  # fmt: skip


def _scatter(rng, lat, lon, sigma_km):
    d = np.clip(rng.normal(size=(len(lat), 2)), -2.5, 2.5) * sigma_km[:, None]
    out_lat = lat + d[:, 0] / KM_PER_DEGREE
    out_lon = lon + d[:, 1] / (KM_PER_DEGREE * np.cos(np.radians(lat)))
    return out_lat, out_lon


class _Calendar:
    """Local days of the window, newest first (index = days ago), in UTC epoch seconds."""

    def __init__(self, now: datetime, days: int):
        tz = ZoneInfo(settings.TIME_ZONE)
        today = now.astimezone(tz).date()
        self.days = days
        self.dates = [today - timedelta(days=k) for k in range(days)]
        self.midnight = np.array([self._utc(d, tz) for d in self.dates], dtype=np.int64)
        self.month_start = np.array(
            [self._utc(d.replace(day=1), tz) for d in self.dates], dtype=np.int64
        )
        self.weekday = np.array([d.weekday() for d in self.dates])
        self.month = np.array([d.month for d in self.dates])

    @staticmethod
    def _utc(day: date, tz) -> int:
        return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())

    def day_weights(self, group: str) -> np.ndarray:
        w = np.array(WEEKLY[group])[self.weekday]
        w = w * np.array([MONTHLY.get(m, 1.0) for m in self.month])
        return w / w.sum()


def generate(n: int, *, seed: int, days: int, now: datetime) -> "Frame":
    rng = np.random.default_rng(seed)
    notes: list[str] = []
    places = _places()
    plat = np.array([p.latitude for p in places])
    plon = np.array([p.longitude for p in places])
    pop = np.array([float(p.population or 0) for p in places])

    cats = {c.slug: c for c in Category.objects.select_related("parent").filter(active=True)}
    leaves = [s for s in CATEGORY_WEIGHTS if s in cats]
    if not leaves:
        raise RuntimeError("no demo categories in the database: run migrations first")
    cat_id = np.array([cats[s].pk for s in leaves])
    cat_sensitive = np.array(
        [cats[s].sensitive or bool(cats[s].parent and cats[s].parent.sensitive) for s in leaves]
    )
    leaf_index = {s: i for i, s in enumerate(leaves)}
    cal = _Calendar(now, days)
    now_ts = int(now.timestamp())

    # --- where and what: background reports ---
    hub_place, hub_lat, hub_lon, hub_sigma, hub_p = _hubs(rng, places, plat, plon, pop)
    specs = _cluster_sizes(n)
    nb = n - sum(size for _, size in specs)
    hub = rng.choice(len(hub_p), size=nb, p=hub_p)
    place = hub_place[hub]
    lat, lon = _scatter(rng, hub_lat[hub], hub_lon[hub], hub_sigma[hub])
    _, p = _weights(CATEGORY_WEIGHTS, leaves)
    cat1 = rng.choice(len(leaves), size=nb, p=p)
    groups = np.array([GROUP.get(s, "general") for s in leaves])[cat1]
    day = np.zeros(nb, dtype=np.int64)
    hour = np.zeros(nb, dtype=np.int64)
    for g in HOURLY:
        rows = np.flatnonzero(groups == g)
        day[rows] = rng.choice(days, size=len(rows), p=cal.day_weights(g))
        hp = np.array(HOURLY[g]) / np.sum(HOURLY[g])
        hour[rows] = rng.choice(24, size=len(rows), p=hp)
    _, status = _choice(rng, STATUSES, nb)
    cluster_of = np.full(nb, -1)

    # --- injected clusters ---
    status_keys = list(STATUSES)
    clusters: list[Cluster] = []
    parts = [(place, lat, lon, cat1, day, hour, status, cluster_of)]
    forced_second = []
    for number, (spec, size) in enumerate(specs):
        if spec.category not in leaf_index:
            continue
        part, info = _cluster(rng, number, spec, size, places, plat, plon, pop, cal, leaf_index)
        ckeys, cstatus = _choice(rng, CLUSTER_STATUSES, size)
        part.insert(6, np.array([status_keys.index(k) for k in ckeys])[cstatus])
        parts.append(part)
        forced_second.append((size, leaf_index.get(spec.companion, -1)))
        clusters.append(info)
    place, lat, lon, cat1, day, hour, status, cluster_of = (
        np.concatenate(cols) for cols in zip(*parts, strict=True)
    )
    n = len(place)

    # --- second category ---
    comp = np.full((len(leaves), 2), -1)
    for s, i in leaf_index.items():
        options = [leaf_index[c] for c in COMPANIONS.get(s, []) if c in leaf_index]
        comp[i, : len(options)] = options
        comp[i, len(options) :] = options[0] if options else -1
    pick = comp[cat1, rng.integers(0, 2, size=n)]
    cat2 = np.where(rng.random(n) < SECOND_CATEGORY_SHARE, pick, -1)
    offset = nb
    for size, companion in forced_second:
        rows = slice(offset, offset + size)
        cat2[rows] = np.where(rng.random(size) < 0.35, companion, -1)
        offset += size
    cat2 = np.where(cat2 == cat1, -1, cat2)

    # --- when ---
    _, tprec = _choice(rng, TIME_PRECISIONS, n)
    tprec[cluster_of >= 0] = np.where(rng.random(int((cluster_of >= 0).sum())) < 0.8, 0, 1)
    seconds = hour * 3600 + rng.integers(0, 3600, size=n)
    happened = cal.midnight[day] + seconds
    # Today, at an hour still to come: the same hour the day before (whose date the day and
    # month precisions must then use too), or, when the window is today alone, earlier today.
    back = (happened > now_ts) & (day + 1 < days)
    day = day + back
    happened = happened - 86400 * back
    elapsed = max(1, now_ts - int(cal.midnight[0]))
    happened = np.where(happened > now_ts, cal.midnight[day] + seconds % elapsed, happened)
    hour = (happened - cal.midnight[day]) // 3600  # what the texts say
    occurred = np.select(
        [tprec == 0, tprec == 1], [happened, cal.midnight[day]], cal.month_start[day]
    )
    occurred = np.minimum(occurred, now_ts)
    delay = np.minimum(rng.lognormal(np.log(3 * 3600), 1.5, size=n), 30 * 86400).astype(np.int64)
    created = np.minimum(happened + delay + 60, now_ts)

    # --- moderation ---
    recent = created > now_ts - 2 * 86400
    pending = recent & np.isin(status, [0, 2]) & (rng.random(n) < 0.7)
    status = np.where(pending, 1, status)
    verified_at = np.minimum(created + 600 + rng.exponential(8 * 3600, n).astype(np.int64), now_ts)
    published_at = np.minimum(verified_at + 300 + rng.exponential(12 * 3600, n).astype(np.int64),
                              now_ts)  # fmt: skip
    archived_at = np.minimum(published_at + rng.exponential(20 * 86400, n).astype(np.int64), now_ts)
    changed = np.select(
        [status == 1, np.isin(status, [2, 3]), status == 0],
        [created, verified_at, published_at],
        archived_at,
    )
    is_published = np.isin(status, [0, 4])

    # --- who, how, harm ---
    slugs1 = np.array(leaves, dtype=object)[cat1]
    minors_p = np.array([MINORS_SHARE.get(s, MINORS_DEFAULT) for s in leaves])[cat1]
    minors = rng.random(n) < minors_p
    sensitive = cat_sensitive[cat1] | np.where(cat2 >= 0, cat_sensitive[cat2], False) | minors
    _, channel = _choice(rng, CHANNELS, n)
    channel_keys = list(CHANNELS)
    _, lprec = _choice(rng, LOCATION_PRECISIONS, n)
    lprec_keys = list(LOCATION_PRECISIONS)
    # An SMS carries a place name, not coordinates.
    lprec = np.where((channel == channel_keys.index("sms")) & (lprec == 0), 1, lprec)
    lprec[cluster_of >= 0] = np.where(rng.random(int((cluster_of >= 0).sum())) < 0.6, 0, 1)
    coarse = lprec >= 2  # only the town was named: the point is the town's centre
    lat = np.where(coarse, plat[place], lat)
    lon = np.where(coarse, plon[place], lon)
    killed, injured = _harm(rng, n, slugs1, np.array(leaves + [""], dtype=object)[cat2])

    # --- public location ---
    table = np.array([PUBLIC_RESOLUTION[k] for k in lprec_keys])  # precision → (normal, sens.)
    resolution = table[lprec, sensitive.astype(int)]
    pub = _public(lat, lon, resolution, lprec, sensitive, lprec_keys)
    dept = np.array([p.department_code for p in places], dtype=object)[place]
    muni = np.full(n, "", dtype=object)
    areas = _admin_codes(lat, lon, notes, lprec, lprec_keys)
    if areas is not None:
        adept, amuni = areas
        dept = np.where(adept != "", adept, dept)
        muni = amuni

    # Rows in the order they arrived: ids grow with created_at, as in a live system.
    order = np.argsort(created, kind="stable")
    texts = _texts(rng, n, slugs1, place, places, hour, tprec, killed, injured, cluster_of)
    place_names = np.array([p.name for p in places], dtype=object)[place]

    def o(a):
        return np.asarray(a)[order]

    columns = {
        "title": o(texts[0]),
        "description": o(texts[1]),
        "occurred_at": o(occurred),
        "occurred_precision": o(np.array(list(TIME_PRECISIONS), dtype=object)[tprec]),
        "latitude": o(np.round(lat, 6)),
        "longitude": o(np.round(lon, 6)),
        "location_precision": o(np.array(lprec_keys, dtype=object)[lprec]),
        "place_name": o(place_names),
        "department_code": o(dept),
        "municipality_code": o(muni),
        "public_latitude": o(pub["lat"]),
        "public_longitude": o(pub["lon"]),
        "public_resolution": o(pub["res"]),
        "h3_r4": o(pub[4]),
        "h3_r6": o(pub[6]),
        "h3_r8": o(pub[8]),
        "h3_r10": o(pub[10]),
        "channel": o(np.array(channel_keys, dtype=object)[channel]),
        "language": np.full(n, "es", dtype=object),
        "sensitive": o(sensitive),
        "involves_minors": o(minors),
        "sensitive_by_moderator": np.zeros(n, dtype=bool),
        "killed": o(killed),
        "injured": o(injured),
        "status": o(np.array(status_keys, dtype=object)[status]),
        "created_at": o(created),
        "updated_at": o(changed),
        "status_changed_at": o(changed),
        "published_at": o(np.where(is_published, published_at, -1)),
    }
    first = o(cat_id[cat1])
    second = o(np.where(cat2 >= 0, cat_id[np.maximum(cat2, 0)], 0))
    return Frame(n, columns, second, first, clusters, notes)


def _cluster_sizes(n: int) -> list[tuple[ClusterSpec, int]]:
    if n < 200:
        return []
    return [(spec, max(spec.minimum, round(spec.share * n))) for spec in CLUSTERS]


def _cluster(rng, number, spec, size, places, plat, plon, pop, cal, leaf_index):
    wanted = _fold(spec.town)
    matches = [i for i, p in enumerate(places) if _fold(p.name) == wanted]
    ranked = list(np.argsort(-pop, kind="stable"))
    i = max(matches, key=lambda j: pop[j]) if matches else int(ranked[number % len(ranked)])
    angle, distance = (
        rng.uniform(0, 2 * np.pi),
        rng.uniform(0.3, 1.2) * _sigma_km(pop[i : i + 1])[0],
    )
    clat = plat[i] + distance * np.sin(angle) / KM_PER_DEGREE
    clon = plon[i] + distance * np.cos(angle) / (KM_PER_DEGREE * np.cos(np.radians(plat[i])))
    north, east = _disc(rng, size, spec.radius_km)
    lat = clat + north / KM_PER_DEGREE
    lon = clon + east / (KM_PER_DEGREE * np.cos(np.radians(clat)))
    span = min(spec.days, cal.days)
    latest = cal.days - span  # the cluster's newest day, counted in days ago
    low = min(2, latest)
    newest = int(rng.integers(low, max(low, min(latest, 100 - span)) + 1))
    day = newest + rng.integers(0, span, size=size)
    group = GROUP.get(spec.category, "general")
    hour = rng.choice(24, size=size, p=np.array(HOURLY[group]) / np.sum(HOURLY[group]))
    info = Cluster(
        category=spec.category, place=places[i].name, latitude=round(float(clat), 5),
        longitude=round(float(clon), 5), start=cal.dates[newest + span - 1],
        end=cal.dates[newest], reports=size, radius_km=spec.radius_km,
    )  # fmt: skip
    part = [
        np.full(size, i), lat, lon, np.full(size, leaf_index[spec.category]), day, hour,
        np.full(size, number),
    ]  # fmt: skip
    return part, info


def _disc(rng, size: int, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (km north, km east) around a centre: normal, none farther than the radius."""
    d = rng.normal(0, radius_km / 2.5, size=(size, 2))
    while True:
        out = np.flatnonzero(np.hypot(d[:, 0], d[:, 1]) > radius_km * 0.999)
        if not len(out):
            return d[:, 0], d[:, 1]
        d[out] = rng.normal(0, radius_km / 2.5, size=(len(out), 2))


def _harm(rng, n, slugs1, slugs2):
    killed = np.full(n, -1, dtype=np.int64)
    injured = np.full(n, -1, dtype=np.int64)
    lethal2 = np.isin(slugs2, LETHAL) & ~np.isin(slugs1, LETHAL)
    killed[lethal2] = 1
    homicide = slugs1 == "homicidio"
    killed[homicide] = 1 + (rng.random(homicide.sum()) < 0.12) + (rng.random(homicide.sum()) < 0.03)
    hit = slugs1 == "sicariato"
    killed[hit] = 1 + (rng.random(hit.sum()) < 0.2)
    massacre = slugs1 == "masacre"
    killed[massacre] = 3 + rng.poisson(1.2, massacre.sum())
    lethal = homicide | hit | massacre
    injured[lethal] = rng.poisson(0.35, lethal.sum())
    for slug, share in (
        ("robo-asalto", 0.12),
        ("abuso-policial", 0.3),
        ("violencia-domestica", 0.5),
    ):
        rows = slugs1 == slug
        injured[rows] = (rng.random(rows.sum()) < share).astype(np.int64)
    return killed, injured


def _public(lat, lon, resolution, lprec, sensitive, lprec_keys):
    """Snap through `public_point` once per distinct public cell: the result depends only on
    the cell, and a million points fall into far fewer cells."""
    cell = np.fromiter(
        map(h3.api.basic_int.latlng_to_cell, lat.tolist(), lon.tolist(), resolution.tolist()),
        dtype=np.uint64,
        count=len(lat),
    )
    unique, first, inverse = np.unique(cell, return_index=True, return_inverse=True)
    out = {k: np.empty(len(unique), dtype=np.int64) for k in (4, 6, 8, 10, "res")}
    out["lat"] = np.empty(len(unique))
    out["lon"] = np.empty(len(unique))
    for j, i in enumerate(first.tolist()):
        plat, plon, res, cells = public_point(
            float(lat[i]),
            float(lon[i]),
            precision=lprec_keys[lprec[i]],
            sensitive=bool(sensitive[i]),
        )
        out["lat"][j], out["lon"][j], out["res"][j] = plat, plon, res
        for k in (4, 6, 8, 10):
            out[k][j] = cells[k]
    return {k: v[inverse] for k, v in out.items()}


def _admin_codes(lat, lon, notes, lprec=None, lprec_keys=None):
    """Department and municipality from imported areas, for every exact point (vectorised
    point-in-polygon, the same answer `locate` gives one report), with the same rule: a point
    that only stands for its department names no municipality."""
    from sereno.geo.areas import admin_codes_many
    from sereno.geo.models import Area

    if not Area.objects.exists():
        return None
    dept, muni = admin_codes_many(lat, lon)
    if lprec is not None and "department" in lprec_keys:
        muni = np.where(lprec == lprec_keys.index("department"), "", muni)
    return dept, muni


def _momento(hour: int) -> str:
    text = ""
    for start, phrase in T.MOMENTOS:
        if hour >= start:
            text = phrase
    return text


def _details(slug: str) -> list[str]:
    if slug in LETHAL:
        return T.DETAILS["lethal"]
    if GROUP.get(slug) == "home":
        return T.DETAILS["sensitive"]
    return T.DETAILS.get(slug, T.DETAILS["other"])


def _texts(rng, n, slugs1, place, places, hour, tprec, killed, injured, cluster_of):
    momentos = [_momento(h) for h in range(24)]
    r = rng.integers(0, 1 << 30, size=(n, 5), dtype=np.int64).tolist()
    names = [p.name for p in places]
    titles, descriptions = [], []
    details_of = {s: _details(s) for s in CATEGORY_WEIGHTS}
    V, P, N, C = T.VICTIMAS, T.PERSONAS, T.NEGOCIOS, T.VEHICULOS
    rows = zip(slugs1.tolist(), place.tolist(), hour.tolist(), tprec.tolist(), killed.tolist(),
               injured.tolist(), cluster_of.tolist(), r, strict=True)  # fmt: skip
    for slug, pl, hr, tp, dead, hurt, cl, (a, b, c, d, e) in rows:
        victima, persona = V[a % len(V)], P[b % len(P)]
        slots = {
            "lugar": names[pl], "momento": momentos[hr] if tp == 0 else "",
            "victima": victima, "Victima": victima[0].upper() + victima[1:], "persona": persona,
            "Persona": persona[0].upper() + persona[1:], "negocio": N[c % len(N)],
            "vehiculo": C[d % len(C)], "muertos": dead, "monto": 200 + 100 * (e % 19),
        }  # fmt: skip
        pool = T.CLUSTER_TITLES.get(slug) if cl >= 0 and e % 2 else None
        pool = pool or T.TITLES[slug]
        titles.append(pool[e % len(pool)].format_map(slots))
        openings = T.OPENINGS[slug]
        details = details_of[slug]
        parts = [openings[(a >> 8) % len(openings)].format_map(slots),
                 details[(b >> 8) % len(details)].format_map(slots)]  # fmt: skip
        if hurt > 0 and slug in LETHAL:
            parts.append("Una persona resultó herida." if hurt == 1 else f"Hubo {hurt} heridos.")
        elif dead > 0 or hurt > 0:  # the text must agree with `killed` and `injured`
            if parts[1] == T.NO_INJURIES:
                parts.pop()
            if dead > 0:
                parts.append("Una persona murió." if dead == 1 else f"Murieron {dead} personas.")
            if hurt > 0:
                parts.append("Una persona resultó herida.")
        closing = T.CLOSINGS[(c >> 8) % len(T.CLOSINGS)]
        if closing:
            parts.append(closing)
        descriptions.append(" ".join(parts))
    return _objects(titles), _objects(descriptions)


def _objects(items: list) -> np.ndarray:
    """A list of strings as an object array (np.asarray would copy them into a fixed-width
    unicode array, slowly and at the width of the longest)."""
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


# --- writing -----------------------------------------------------------------------------------


def _references(n: int) -> list[str]:
    """`n` new references, as `new_reference()` makes them (REFERENCE_LENGTH characters of
    REFERENCE_ALPHABET from the operating system's randomness), drawn in bulk: one at a time
    took over half a minute for a million."""
    bits = 5  # the alphabet has 32 symbols: one character per 5 random bits
    assert len(REFERENCE_ALPHABET) == 1 << bits and REFERENCE_LENGTH * bits <= 64
    alphabet = np.frombuffer(REFERENCE_ALPHABET.encode("ascii"), dtype=np.uint8)
    shifts = np.arange(REFERENCE_LENGTH, dtype=np.uint64) * np.uint64(bits)
    seen: set[str] = set()
    if Report.objects.exists():
        seen.update(Report.objects.values_list("reference", flat=True).iterator(chunk_size=50_000))
    refs: list[str] = []
    while len(refs) < n:
        want = n - len(refs)
        raw = np.frombuffer(secrets.token_bytes(8 * want), dtype=np.uint64)
        digits = (raw[:, None] >> shifts) & np.uint64((1 << bits) - 1)
        text = alphabet[digits].tobytes().decode("ascii")
        for k in range(0, len(text), REFERENCE_LENGTH):
            ref = text[k : k + REFERENCE_LENGTH]
            if ref not in seen:
                seen.add(ref)
                refs.append(ref)
    return refs


def _sqlite_time(a: np.ndarray) -> list[str]:
    text = np.datetime_as_string(a.astype("datetime64[s]"), unit="s")
    return np.char.replace(text, "T", " ").tolist()


def _pg_time(a: np.ndarray) -> list[str]:
    text = np.datetime_as_string(a.astype("datetime64[s]"), unit="s")
    return np.char.add(text, "+00").tolist()


def _column_values(frame: Frame, name: str, lo: int, hi: int, time_format) -> list:
    a = frame.columns[name][lo:hi]
    if name in ("occurred_at", "created_at", "updated_at", "status_changed_at", "published_at"):
        values = time_format(np.maximum(a, 0))
        return [v if t >= 0 else None for v, t in zip(values, a.tolist(), strict=True)]
    if name in ("killed", "injured"):
        return [v if v >= 0 else None for v in a.tolist()]
    return a.tolist()


def _write(frame: Frame, *, progress: Progress | None, started: float) -> None:
    meta = Report._meta
    names = list(frame.columns)
    table = connection.ops.quote_name(meta.db_table)
    pk = meta.pk.column
    cols = [pk, meta.get_field("reference").column] + [meta.get_field(f).column for f in names]
    through = meta.get_field("categories").remote_field.through._meta
    m2m_table = connection.ops.quote_name(through.db_table)
    m2m_cols = [through.get_field("report").column, through.get_field("category").column]
    refs = _references(frame.n)
    postgres = connection.vendor == "postgresql"
    time_format = _pg_time if postgres else _sqlite_time
    # Loading most of the table: drop its secondary indexes and build them again at the end
    # (a sort instead of a million random B-tree inserts into each of ~20 indexes), all in one
    # transaction so that a failure leaves the table as it was.
    rebuild = frame.n >= REBUILD_INDEXES_AT and frame.n >= Report.objects.count()
    tables = [meta.db_table, through.db_table]
    with transaction.atomic(), _bulk_mode(tables, rebuild=rebuild):
        for lo in range(0, frame.n, CHUNK):
            hi = min(lo + CHUNK, frame.n)
            values = [_column_values(frame, name, lo, hi, time_format) for name in names]
            with transaction.atomic():
                ids = _allocate_ids(table, pk, hi - lo)
                rows = zip(ids, refs[lo:hi], *values, strict=True)
                links = [(i, int(c)) for i, c in zip(ids, frame.first_category[lo:hi], strict=True)]
                links += [
                    (i, int(c)) for i, c in zip(ids, frame.second_category[lo:hi], strict=True) if c
                ]
                if postgres:
                    _copy(table, cols, rows)
                    _copy(m2m_table, m2m_cols, links)
                else:
                    _executemany(table, cols, rows)
                    _executemany(m2m_table, m2m_cols, links)
            if progress:
                progress(hi, frame.n, time.perf_counter() - started)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(f"ANALYZE {m2m_table}")


def _allocate_ids(table: str, pk: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [Report._meta.db_table, pk, count],
            )
            return [row[0] for row in cursor.fetchall()]
        # Inside the write transaction, so no other writer can take these ids meanwhile.
        # Names from the model's metadata, quoted: nothing here comes from input.
        column = connection.ops.quote_name(pk)
        max_id = f"SELECT COALESCE(MAX({column}), 0) FROM {table}"  # noqa: S608
        cursor.execute(max_id)
        start = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [Report._meta.db_table])
        row = cursor.fetchone()
        start = max(start, row[0] if row else 0) + 1
        return list(range(start, start + count))


def _executemany(table: str, cols: list[str], rows) -> None:
    names = ", ".join(connection.ops.quote_name(c) for c in cols)
    marks = ", ".join(["?"] * len(cols))
    # The raw sqlite3 cursor: Django's wrapper would re-scan the SQL for every call.
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 (model metadata)
    connection.connection.executemany(insert, rows)


def _copy(table: str, cols: list[str], rows) -> None:
    names = ", ".join(connection.ops.quote_name(c) for c in cols)
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


@contextmanager
def _bulk_mode(tables: list[str], *, rebuild: bool):
    """Inside the load's transaction. SQLite: a large page cache while loading. With `rebuild`:
    the tables' secondary indexes (and on PostgreSQL their foreign keys, checked row by row
    otherwise) are dropped first and created again, from their own definitions, at the end.
    Constraint indexes (primary keys, unique references) stay: they keep the load honest."""
    sqlite = connection.vendor == "sqlite"
    previous = None
    dropped: list[str] = []
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute("PRAGMA cache_size")
            previous = cursor.fetchone()[0]
            cursor.execute("PRAGMA cache_size = -262144")
        if rebuild:
            dropped = _drop_indexes(cursor, tables, sqlite=sqlite)
    try:
        yield
        if dropped:
            with connection.cursor() as cursor:
                if not sqlite:
                    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
                for statement in dropped:
                    cursor.execute(statement)
    finally:
        if previous is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def _drop_indexes(cursor, tables: list[str], *, sqlite: bool) -> list[str]:
    """Drop the tables' plain indexes (and PostgreSQL foreign keys); the statements that
    recreate them."""
    quote = connection.ops.quote_name
    recreate = []
    if sqlite:
        for name in tables:
            # sql IS NULL: the automatic indexes of UNIQUE and PRIMARY KEY constraints.
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
                " AND sql IS NOT NULL ORDER BY name",
                [name],
            )
            for index, sql in cursor.fetchall():
                cursor.execute(f"DROP INDEX {quote(index)}")
                recreate.append(sql)
        return recreate
    # Deferred checks still pending in this transaction (a delete just before, say) would
    # forbid the ALTER TABLE: run them now, as Django does, and defer again.
    connection.check_constraints()
    cursor.execute(
        "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[]) "
        "ORDER BY 1, 2",
        [tables],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        [tables],
    )
    indexes = cursor.fetchall()
    for table, name, definition in foreign_keys:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
        recreate.append(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")
    for name, definition in indexes:
        cursor.execute(f"DROP INDEX {quote(name)}")
        recreate.append(definition)
    return recreate
