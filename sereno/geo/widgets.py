"""A zone picker for forms: draw a circle (click the centre, set the radius) or a polygon
(click the corners, then finish) on the vendored Leaflet map; without JavaScript, plain
latitude / longitude / radius fields. No inline script (the CSP forbids it): the behaviour is
in static/geo/zone-picker.js, the texts in data- attributes.

    drawn = ZoneField(required=False)   # cleaned: ZoneSpec or None
    zone = form.cleaned_data["drawn"].zone()   # geo.zones: found or created, shared
"""

import json
import math
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sereno.geo import zones
from sereno.geo.models import Zone

DEFAULT_RADIUS_KM = 2


@dataclass(frozen=True)
class ZoneSpec:
    """A drawn circle (lat, lon, radius_km) or polygon (GeoJSON geometry)."""

    kind: str
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    geometry: dict | None = None

    def zone(self, *, label: str = "") -> Zone:
        """The shared zone (InvalidInput for a shape geo.zones refuses)."""
        if self.kind == "polygon":
            return zones.zone_for_polygon(self.geometry, label=label)
        return zones.zone_for_circle(self.lat, self.lon, self.radius_km, label=label)


class ZonePickerWidget(forms.MultiWidget):
    template_name = "geo/zone_picker.html"

    class Media:
        css = {"all": ("vendor/leaflet/leaflet.css",)}
        js = ("vendor/leaflet/leaflet.js", "geo/zone-picker.js")

    def __init__(self, attrs=None):
        number = {"step": "any", "inputmode": "decimal"}
        widgets = {
            "polygon": forms.HiddenInput(),
            "lat": forms.NumberInput(attrs={**number, "min": "-90", "max": "90"}),
            "lon": forms.NumberInput(attrs={**number, "min": "-180", "max": "180"}),
            "radius": forms.NumberInput(
                attrs={
                    **number,
                    "min": f"{zones.MIN_RADIUS_KM:g}",
                    "max": f"{zones.MAX_RADIUS_KM:g}",
                }
            ),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if isinstance(value, ZoneSpec):
            polygon = json.dumps(value.geometry) if value.geometry else ""
            return [polygon, value.lat, value.lon, value.radius_km]
        return ["", None, None, DEFAULT_RADIUS_KM]

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for sub in context["widget"]["subwidgets"]:
            if sub["attrs"].get("id"):  # "id_drawn_lat" rather than "id_drawn_1"
                sub["attrs"]["id"] = f"id_{sub['name']}"
        context["tiles"] = settings.TILE_URL
        return context

    def id_for_label(self, id_):
        return f"{id_}_lat" if id_ else id_


class ZoneField(forms.MultiValueField):
    widget = ZonePickerWidget

    def __init__(self, **kwargs):
        fields = (
            forms.CharField(required=False, max_length=200_000),
            forms.FloatField(required=False),
            forms.FloatField(required=False),
            forms.FloatField(required=False),
        )
        kwargs.setdefault("required", False)
        super().__init__(fields, require_all_fields=False, **kwargs)

    def compress(self, data_list):
        if not data_list:
            return None
        polygon, lat, lon, radius = (list(data_list) + [None] * 4)[:4]
        if polygon:
            return ZoneSpec("polygon", geometry=_geometry(polygon))
        if lat is None and lon is None:
            return None
        if lat is None or lon is None or radius is None:
            raise forms.ValidationError(
                _("A circle needs a latitude, a longitude and a radius."), code="incomplete"
            )
        if not all(map(math.isfinite, (lat, lon, radius))):
            raise forms.ValidationError(_("Enter numbers."), code="invalid")
        return ZoneSpec("circle", lat=lat, lon=lon, radius_km=radius)


def _geometry(text: str) -> dict:
    try:
        geometry = json.loads(text)
    except ValueError as exc:
        raise forms.ValidationError(_("The drawn area could not be read."), code="invalid") from exc
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        raise forms.ValidationError(_("The drawn area could not be read."), code="invalid")
    return geometry
