"""The alert form: it parses and checks input (the area as plain text fields, so that it works
without JavaScript); the services decide."""

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sereno.alerts.models import Alert
from sereno.alerts.services import EDITABLE_FIELDS
from sereno.geo.models import Area, Zone
from sereno.geo.widgets import ZoneField
from sereno.reports.models import Category

DEFAULT_HOURS = 6
TEXT_FIELDS = [n for n in EDITABLE_FIELDS if n[-3:] in ("_es", "_en")]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _when(label) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class AlertForm(forms.ModelForm):
    areas = forms.ModelMultipleChoiceField(
        queryset=Area.objects.order_by("level", "name"),
        required=False,
        label=_("Imported areas (departments, municipalities)"),
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    places = forms.CharField(
        required=False,
        label=_("Places (one name a line: town, colonia)"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    circle = forms.CharField(
        required=False,
        label=_("Circles (one a line: latitude,longitude radius_km)"),
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "14.0723,-87.1921 3"}),
    )
    polygon = forms.CharField(
        required=False,
        label=_("Polygons (one a line: lat,lon lat,lon lat,lon …)"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    drawn = ZoneField(required=False, label=_("Or draw it on the map (a circle or a polygon)"))
    keep = forms.ModelMultipleChoiceField(
        queryset=Zone.objects.none(),
        required=False,
        label=_("Keep these zones"),
        widget=forms.CheckboxSelectMultiple,
    )
    signal = forms.IntegerField(required=False, widget=forms.HiddenInput)
    effective = _when(_("Takes effect"))
    expires = _when(_("Expires"))

    class Meta:
        model = Alert
        fields = [
            "status", "category", "urgency", "severity", "certainty", *TEXT_FIELDS,
            "effective", "expires",
        ]  # fmt: skip
        labels = {
            "status": _("Status (Actual for real alerts; Exercise or Test for drills)"),
            "category": _("Category"),
            "urgency": _("Urgency"),
            "severity": _("Severity"),
            "certainty": _("Certainty"),
        }
        widgets = {
            name: forms.Textarea(attrs={"rows": 3})
            for name in TEXT_FIELDS
            if name.startswith(("description", "instruction"))
        }

    def __init__(self, *args, current_zones=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area_desc_es"].required = False  # named after the zones when empty
        if current_zones:
            ids = [z.pk for z in current_zones]
            self.fields["keep"].queryset = Zone.objects.filter(pk__in=ids)
            self.fields["keep"].initial = ids
        else:
            del self.fields["keep"]

    def area_input(self) -> dict:
        data = self.cleaned_data
        return {
            "area_codes": [a.code for a in data.get("areas") or []],
            "place_names": _lines(data.get("places")),
            "circles": _lines(data.get("circle")),
            "polygons": _lines(data.get("polygon")),
        }

    def kept_zones(self) -> list[Zone]:
        return list(self.cleaned_data.get("keep") or [])

    def drawn_zones(self) -> list[Zone]:
        """The shape drawn with the zone picker (InvalidInput for one geo.zones refuses)."""
        drawn = self.cleaned_data.get("drawn")
        return [drawn.zone()] if drawn else []

    def alert_fields(self, zones: list[Zone]) -> dict:
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        values["signal_id"] = self.cleaned_data.get("signal")
        if not values["area_desc_es"]:
            values["area_desc_es"] = ", ".join(z.label for z in zones)[:200]
        return values


def initial_from_query(params) -> dict:
    """Pre-fill from a link (the detection page's "Draft an alert"):
    ?signal=<id>&circle=<lat>,<lon> <radius_km>&category=<report category slug>&event=<text>."""
    now = timezone.localtime().replace(second=0, microsecond=0)
    initial = {
        "effective": now,
        "expires": now + timedelta(hours=DEFAULT_HOURS),
        "urgency": Alert.Urgency.IMMEDIATE,
        "severity": Alert.Severity.SEVERE,
        "certainty": Alert.Certainty.LIKELY,
    }
    if (params.get("signal") or "").isdigit():
        initial["signal"] = int(params["signal"])
    if params.get("circle"):
        initial["circle"] = params["circle"].strip()[:200]
    category = Category.objects.filter(slug=params.get("category") or "").first()
    if category is not None:
        initial["event_es"], initial["event_en"] = category.name_es, category.name_en
    if params.get("event"):
        initial["event_es"] = params["event"].strip()[:120]
    return initial


def initial_from_alert(alert: Alert, msg_type: str | None = None) -> dict:
    initial = {name: getattr(alert, name) for name in EDITABLE_FIELDS}
    initial["effective"] = timezone.localtime(alert.effective)
    initial["expires"] = timezone.localtime(alert.expires)
    initial["signal"] = alert.signal_id
    if msg_type == Alert.MsgType.CANCEL:
        now = timezone.localtime().replace(second=0, microsecond=0)
        initial["effective"] = now
        initial["urgency"], initial["certainty"] = Alert.Urgency.PAST, Alert.Certainty.OBSERVED
        initial["severity"] = Alert.Severity.MINOR
    return initial
