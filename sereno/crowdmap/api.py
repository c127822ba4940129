"""Public map API under /api/v1 (aggregated GeoJSON, timeline, place search)."""

from datetime import date

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from sereno.crowdmap import selectors
from sereno.geo import gazetteer
from sereno.lib import ratelimit

router = Router(tags=["map"])


class MapFilters(Schema):
    category: list[str] | None = Field(default=None, max_length=20)
    date_from: date | None = None
    date_to: date | None = None
    department: str | None = Field(default=None, max_length=8)
    municipality: str | None = Field(default=None, max_length=32)


class MapIn(MapFilters):
    bbox: str = Field(max_length=100)
    zoom: int = Field(ge=0, le=selectors.MAX_ZOOM)


class TimelineIn(MapFilters):
    bbox: str | None = Field(default=None, max_length=100)


class PlacesIn(Schema):
    q: str = Field(max_length=100)


def _limit(request) -> None:
    ratelimit.hit("public-read", ratelimit.client_key(request), settings.RATE_PUBLIC_READ)


def _query(params) -> selectors.MapQuery:
    return selectors.map_query(
        bbox=params.bbox, category=params.category, date_from=params.date_from,
        date_to=params.date_to, department=params.department, municipality=params.municipality,
    )  # fmt: skip


@router.get("/map", auth=None)
def map_view(request: HttpRequest, params: Query[MapIn]):
    """Published reports in the viewport `bbox=west,south,east,north` at `zoom`, as GeoJSON:
    H3 hexagons with counts (mode "hexagons") or, at street zoom (>= 14), public points with
    their newest reports (mode "points"). `total` = the sum of the features' counts = the
    matching published reports whose public point is in the viewport."""
    _limit(request)
    body = selectors.map_json(_query(params), params.zoom)  # encoded by the selector (fast)
    return HttpResponse(body, content_type="application/json")


@router.get("/map/timeline", auth=None)
def map_timeline(request: HttpRequest, params: Query[TimelineIn]):
    """Matching published reports per local day (America/Tegucigalpa) of occurrence."""
    _limit(request)
    return selectors.timeline(_query(params))


@router.get("/places", auth=None)
def places(request: HttpRequest, params: Query[PlacesIn]):
    """Up to 10 places of the offline gazetteer named like `q` (accents and case ignored)."""
    _limit(request)
    return [
        {
            "name": p.name,
            "department": p.department_code,
            "department_name": p.department_name,
            "latitude": p.latitude,
            "longitude": p.longitude,
        }
        for p in gazetteer.search(params.q, limit=10)
    ]
