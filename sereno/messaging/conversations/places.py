"""Where it happened, from a place name typed on a phone, with the offline gazetteer.

Never invents an exact point: a town or neighbourhood is located at the place's centre with
precision "place", a municipality (imported boundaries) at a point inside it with precision
"municipality", a department at its most populous town with precision "department" — the
public point is then snapped to a cell as coarse as that precision (geo.services).
"""

import re
from dataclasses import asdict, dataclass

from django.utils.translation import gettext as _

from sereno.geo import gazetteer

MAX_CHOICES = 4
# "Kennedy, Tegucigalpa", "Concepción - Intibucá", "La Ceiba en Atlántida".
_PARTS = re.compile(r"[,;/\n]|\s+-\s+|\s+en\s+|\s+in\s+", re.IGNORECASE)


@dataclass
class Candidate:
    name: str
    department_code: str
    latitude: float
    longitude: float
    precision: str  # place | municipality | department

    def as_data(self) -> dict:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict) -> "Candidate":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})

    def label(self) -> str:
        """How the candidate is offered in a numbered choice (in the active language)."""
        department = gazetteer.department_name(self.department_code)
        if self.precision == "department":
            return _("%(department)s department") % {"department": department}
        if self.precision == "municipality":
            return _("municipality of %(name)s") % {"name": self.name}
        return f"{self.name} ({department})" if department else self.name


@dataclass
class Resolution:
    candidates: list[Candidate]
    # False: names that only start like the text, offered to be confirmed by number.
    exact: bool

    @property
    def unique(self) -> Candidate | None:
        return self.candidates[0] if self.exact and len(self.candidates) == 1 else None


def _names(place) -> set[str]:
    return {gazetteer.normalize(n) for n in (place.name, *place.alternate_names)}


def _place(place) -> Candidate:
    return Candidate(place.name, place.department_code, place.latitude, place.longitude, "place")


def _department(code: str) -> Candidate | None:
    towns = [p for p in gazetteer.places() if p.department_code == code]
    if not towns:
        return None
    seat = max(towns, key=lambda p: p.population)
    name = gazetteer.department_name(code)
    return Candidate(name, code, seat.latitude, seat.longitude, "department")


def _municipalities(key: str) -> list[Candidate]:
    """Imported municipality boundaries named exactly `key` (a point inside each)."""
    from shapely.geometry import shape

    from sereno.geo.models import Area

    areas = Area.objects.filter(level=Area.Level.MUNICIPALITY)
    # Names first (small); the boundaries (large) only of the ones that match.
    matching = [
        pk for pk, name in areas.values_list("pk", "name") if gazetteer.normalize(name) == key
    ]
    found = []
    if matching:
        rows = areas.filter(pk__in=matching).only("name", "department_code", "geometry")
        for area in rows.order_by("pk"):
            point = shape(area.geometry).representative_point()
            found.append(
                Candidate(area.name, area.department_code, point.y, point.x, "municipality")
            )
    return found


SEARCH_LIMIT = 30


def _exact(part: str, searched: dict) -> list[Candidate]:
    key = gazetteer.normalize(part)
    if not key:
        return []
    places = [p for p in _search(part, searched) if key in _names(p)]
    return [_place(p) for p in places] + _municipalities(key)


def _search(part: str, searched: dict) -> list:
    """gazetteer.search once per part and message (each search also reads geo.Place)."""
    if part not in searched:
        searched[part] = gazetteer.search(part, limit=SEARCH_LIMIT)
    return searched[part]


def _unique(candidates: list[Candidate]) -> list[Candidate]:
    seen, out = set(), []
    for c in candidates:
        marker = (gazetteer.normalize(c.name), c.department_code, c.precision)
        if marker not in seen:
            seen.add(marker)
            out.append(c)
    return out


def resolve(text: str) -> Resolution:
    """The places `text` may name. Parts separated by commas are tried most specific first;
    a part that names a department narrows the others ("San Marcos, Ocotepeque")."""
    parts = [p.strip() for p in _PARTS.split(text or "") if p and p.strip()]
    if not parts:
        return Resolution([], exact=True)
    departments = {p: gazetteer.department_by_name(p) for p in parts}
    named = {code for code in departments.values() if code}
    searched: dict[str, list] = {}
    for part in parts:
        if departments[part] and len(parts) > 1:
            continue  # the department qualifies the other parts
        found = _exact(part, searched)
        qualifiers = named - {departments[part]}
        if qualifiers:
            found = [c for c in found if c.department_code in qualifiers]
        if departments[part]:
            # "Comayagua" is a town and a department: offer both.
            found.append(_department(departments[part]))
        found = _unique([c for c in found if c is not None])
        if found:
            return Resolution(found[:MAX_CHOICES], exact=True)
    if named:
        return Resolution(
            [c for c in (_department(code) for code in sorted(named)) if c], exact=True
        )
    # Nothing by its exact name: names that start like the text, to confirm by number.
    # The most populous names first (search's order), as a search limited to MAX_CHOICES.
    near = _unique([_place(p) for p in _search(parts[0], searched)[:MAX_CHOICES]])
    return Resolution(near, exact=False)
