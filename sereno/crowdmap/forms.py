"""Forms of the public pages: the map filters (plain GET) and the report form (plain POST)."""

import re
import secrets
from datetime import date, datetime, time

from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sereno.geo import gazetteer
from sereno.reports.services import ReportInput, active_categories

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_token() -> str:
    return secrets.token_urlsafe(18)


def category_choices() -> list[tuple[str, str]]:
    english = (get_language() or "es").startswith("en")
    rows = sorted(active_categories().values(), key=lambda c: (c.position, c.slug))
    return [(c.slug, c.name_en if english else c.name_es) for c in rows]


def department_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank), *gazetteer.DEPARTMENTS]


class MapFilterForm(forms.Form):
    """The map's filters; the same names as /api/v1/map, so the page URL is the API query."""

    category = forms.MultipleChoiceField(
        label=_("Category"), required=False, widget=forms.CheckboxSelectMultiple
    )
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    department = forms.ChoiceField(label=_("Department"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices()
        self.fields["department"].choices = department_choices(_("All departments"))

    def cleaned_or_empty(self) -> dict:
        """Valid filters only: a bad value in a shared link is dropped, not an error page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if name not in self.errors}


class ReportForm(forms.Form):
    """What a person tells us. Works as a plain POST; the page's script sends the same fields
    to /api/v1/reports when JavaScript is on."""

    title = forms.CharField(
        label=_("What happened, in a few words"),
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    categories = forms.MultipleChoiceField(
        label=_("Type of incident"), required=False, widget=forms.CheckboxSelectMultiple
    )
    when_date = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    when_time = forms.TimeField(
        label=_("Time (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    description = forms.CharField(
        label=_("Describe what happened"),
        max_length=10000,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    place_name = forms.CharField(
        label=_("Place (town, neighbourhood, landmark)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "place-options"}),
    )
    department = forms.ChoiceField(label=_("Department"), required=False)
    latitude = forms.FloatField(required=False, widget=forms.HiddenInput)
    longitude = forms.FloatField(required=False, widget=forms.HiddenInput)
    location_precision = forms.ChoiceField(
        required=False,
        choices=[("exact", "exact"), ("place", "place")],
        widget=forms.HiddenInput,
    )
    involves_minors = forms.BooleanField(label=_("Children or teenagers were involved"),
                                         required=False)  # fmt: skip
    photo = forms.FileField(
        label=_("Photo (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )
    contact = forms.CharField(
        label=_("How can a moderator contact you? (optional)"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    token = forms.CharField(widget=forms.HiddenInput)

    # Service errors name fields by the service's names; show them next to ours.
    SERVICE_FIELDS = {
        "occurred_at": "when_date",
        "occurred_precision": "when_date",
        "latitude": "place_name",
        "longitude": "place_name",
        "location_precision": "place_name",
        "file": "photo",
        "files": "photo",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].choices = category_choices()
        self.fields["department"].choices = department_choices(_("I don't know / choose"))
        self.fields["when_date"].widget.attrs["max"] = timezone.localdate().isoformat()
        for name in self.HELP_TEXT_FIELDS:
            self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}-help"

    HELP_TEXT_FIELDS = ("place_name", "photo", "contact")  # the template shows their help

    def full_clean(self):
        super().full_clean()
        self.describe_errors()

    def add_error(self, field, error):
        super().add_error(field, error)
        self.describe_errors()

    def describe_errors(self) -> None:
        """Screen readers read a field's error (and help) when the field gets focus."""
        for name in getattr(self, "_errors", None) or {}:
            if name not in self.fields:
                continue
            attrs = self.fields[name].widget.attrs
            attrs["aria-invalid"] = "true"
            ids = [f"id_{name}-error"]
            if name in self.HELP_TEXT_FIELDS:
                ids.append(f"id_{name}-help")
            attrs["aria-describedby"] = " ".join(ids)

    def clean_token(self) -> str:
        token = self.cleaned_data["token"]
        if not TOKEN_RE.match(token):
            raise forms.ValidationError(_("The form expired. Please send it again."))
        return token

    def clean_when_date(self) -> date:
        value = self.cleaned_data["when_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."))
        return value

    def clean(self):
        data = super().clean()
        lat, lon = data.get("latitude"), data.get("longitude")
        if (lat is None) != (lon is None):
            data["latitude"] = data["longitude"] = None
        return data

    def field_for(self, service_field: str | None) -> str | None:
        name = self.SERVICE_FIELDS.get(service_field or "", service_field)
        return name if name in self.fields else None

    def report_input(self, *, language: str) -> ReportInput:
        data = self.cleaned_data
        when_time = data.get("when_time")
        occurred = timezone.make_aware(datetime.combine(data["when_date"], when_time or time(12)))
        lat, lon = data.get("latitude"), data.get("longitude")
        precision = data.get("location_precision") or "place"
        place_name = data.get("place_name", "")
        if lat is None:
            lat, lon, precision = self._locate_by_name(place_name, data.get("department") or "")
        return ReportInput(
            title=data["title"],
            description=data["description"],
            occurred_at=occurred,
            occurred_precision="exact" if when_time else "day",
            categories=list(data.get("categories") or []),
            latitude=lat,
            longitude=lon,
            location_precision=precision,
            place_name=place_name,
            channel="web",
            language=language,
            involves_minors=bool(data.get("involves_minors")),
            contact=data.get("contact", ""),
        )

    @staticmethod
    def _locate_by_name(place_name: str, department: str):
        """Without JavaScript there are no coordinates: find the typed place in the gazetteer
        (preferring the chosen department), else fall back to the department's main town."""
        candidates = gazetteer.search(place_name, 10) if place_name.strip() else []
        if department:
            candidates = [p for p in candidates if p.department_code == department]
            if not candidates:
                towns = [p for p in gazetteer.places() if p.department_code == department]
                if towns:
                    town = max(towns, key=lambda p: p.population)
                    return town.latitude, town.longitude, "department"
        if candidates:
            return candidates[0].latitude, candidates[0].longitude, "place"
        return None, None, "place"
