"""Public map API under /api/v1 (aggregated GeoJSON, timeline, place search)."""

from ninja import Router

router = Router(tags=["map"])
