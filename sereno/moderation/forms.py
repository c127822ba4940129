"""Forms of the desk: they parse and check input; the services decide."""

from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sereno.geo.gazetteer import DEPARTMENTS
from sereno.reports.models import Category, LocationPrecision, Status, TimePrecision
from sereno.reports.selectors import ReportFilters

ALL = "all"
BULK_ACTIONS = {
    "verify": Status.VERIFIED,
    "publish": Status.PUBLISHED,
    "reject": Status.REJECTED,
}
MAX_BULK = 100


def category_choices(*, blank: bool) -> list[tuple[str, str]]:
    language = get_language() or "es"
    rows = Category.objects.filter(active=True).select_related("parent")
    choices = [
        (c.slug, f"{c.parent.name(language)} › {c.name(language)}" if c.parent_id else
         c.name(language))
        for c in rows
    ]  # fmt: skip
    return [("", _("Any category"))] + choices if blank else choices


class QueueFilterForm(forms.Form):
    status = forms.ChoiceField(required=False)
    category = forms.ChoiceField(required=False, label=_("Category"))
    department = forms.ChoiceField(required=False, label=_("Department"))
    date_from = forms.DateField(
        required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(required=False, max_length=200, label=_("Search"),
                        widget=forms.TextInput(attrs={"type": "search"}))  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(ALL, _("all")), *Status.choices]
        self.fields["category"].choices = category_choices(blank=True)
        self.fields["department"].choices = [("", _("Any department")), *DEPARTMENTS]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def status_value(self) -> str:
        return getattr(self, "cleaned_data", {}).get("status") or Status.RECEIVED

    def filters(self) -> ReportFilters:
        data = self.cleaned_data
        status = self.status_value()
        return ReportFilters(
            status=None if status == ALL else [status],
            category=[data["category"]] if data.get("category") else None,
            department=data.get("department") or None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            q=(data.get("q") or "").strip() or None,
        )


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(k, k) for k in BULK_ACTIONS])
    reason = forms.CharField(required=False, max_length=2000)

    def __init__(self, data, references: list[str]):
        super().__init__(data)
        self.references = references

    def clean(self):
        data = super().clean()
        if not self.references:
            raise forms.ValidationError(_("Select at least one report."))
        if len(self.references) > MAX_BULK:
            raise forms.ValidationError(_("At most %(n)d reports at a time.") % {"n": MAX_BULK})
        if data.get("action") == "reject" and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Rejecting needs a reason."))
        return data


class EditForm(forms.Form):
    """The fields a moderator may change; only the changed ones go to report_edit."""

    title = forms.CharField(max_length=200, label=_("Title"))
    description = forms.CharField(
        max_length=10000, label=_("Description"), widget=forms.Textarea(attrs={"rows": 6})
    )
    categories = forms.MultipleChoiceField(
        required=False, label=_("Categories"), widget=forms.CheckboxSelectMultiple
    )
    occurred_at = forms.DateTimeField(
        label=_("When it happened"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    occurred_precision = forms.ChoiceField(choices=TimePrecision.choices, label=_("Time precision"))
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90, label=_("Latitude"))
    longitude = forms.FloatField(
        required=False, min_value=-180, max_value=180, label=_("Longitude")
    )
    location_precision = forms.ChoiceField(
        choices=LocationPrecision.choices, label=_("Location precision")
    )
    place_name = forms.CharField(required=False, max_length=200, label=_("Place"))
    sensitive_by_moderator = forms.BooleanField(
        required=False,
        label=_("Sensitive"),
        help_text=_("Publish only a coarse location and the nearest town."),
    )
    involves_minors = forms.BooleanField(required=False, label=_("Involves minors"))
    reason = forms.CharField(
        required=False, max_length=2000, label=_("Reason for the change (kept in the history)")
    )

    FIELDS = (
        "title", "description", "categories", "occurred_at", "occurred_precision", "latitude",
        "longitude", "location_precision", "place_name", "sensitive_by_moderator",
        "involves_minors",
    )  # fmt: skip

    def __init__(self, *args, report, **kwargs):
        initial = {name: getattr(report, name) for name in self.FIELDS if name != "categories"}
        initial["categories"] = sorted(c.slug for c in report.categories.all())
        initial["occurred_at"] = timezone.localtime(report.occurred_at).replace(
            second=0, microsecond=0
        )
        super().__init__(*args, initial=initial, **kwargs)
        self.fields["categories"].choices = category_choices(blank=False)

    def clean(self):
        data = super().clean()
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            self.add_error("longitude", _("Give both latitude and longitude, or neither."))
        return data

    def changes(self) -> dict:
        changed = [name for name in self.changed_data if name in self.FIELDS]
        if "latitude" in changed or "longitude" in changed:
            changed = sorted({*changed, "latitude", "longitude"})
        return {name: self.cleaned_data[name] for name in changed}
