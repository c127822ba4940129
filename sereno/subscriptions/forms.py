"""The public subscription forms (/alertas/). They parse and check input; the zone and the
subscription are made by services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sereno.geo import gazetteer
from sereno.geo.models import Area
from sereno.geo.widgets import ZoneField
from sereno.lib.errors import InvalidInput
from sereno.messaging.conversations import places
from sereno.subscriptions import services


def area_choices() -> list:
    """Imported departments and municipalities, municipalities grouped by department."""
    rows = list(
        Area.objects.order_by("name").values_list("code", "name", "level", "department_code")
    )
    departments = [(code, name) for code, name, level, _d in rows if level == "department"]
    groups: dict[str, list] = {}
    for code, name, level, department in rows:
        if level == "municipality":
            groups.setdefault(department, []).append((code, name))
    choices: list = [("", _("— choose —"))]
    if departments:
        choices.append((_("Departments"), departments))
    for department in sorted(groups, key=lambda c: gazetteer.department_name(c) or c):
        label = gazetteer.department_name(department) or department
        choices.append(
            (_("Municipalities of %(department)s") % {"department": label}, groups[department])
        )
    return choices


class SubscribeForm(forms.Form):
    area = forms.ChoiceField(label=_("Municipality or department"), required=False)
    place = forms.CharField(
        label=_("Or a place name (town, colonia)"), required=False, max_length=100
    )
    place_choice = forms.TypedChoiceField(
        label=_("Which one?"), required=False, coerce=int, widget=forms.RadioSelect
    )
    drawn = ZoneField(label=_("Or draw the area on the map"))
    language = forms.ChoiceField(
        label=_("Language of the alerts"),
        choices=[("es", "Español"), ("en", "English")],
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(
        label=_("Send the alerts"),
        choices=[("phone", _("by SMS to my phone")), ("email", _("by e-mail"))],
        widget=forms.RadioSelect,
    )
    phone = forms.CharField(
        label=_("Phone number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.EmailField(label=_("E-mail address"), required=False, max_length=254)

    def __init__(self, *args, sms_available: bool, email_available: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["area"].choices = area_choices()
        typed = (self.data.get("place") or "").strip() if self.is_bound else ""
        self.resolution = places.resolve(typed) if typed else None
        self.candidates: list[places.Candidate] = []
        if self.resolution and self.resolution.unique is None and self.resolution.candidates:
            self.candidates = self.resolution.candidates
            self.fields["place_choice"].choices = [
                (n, c.label()) for n, c in enumerate(self.candidates, start=1)
            ]
        methods = [
            (value, label)
            for value, label in self.fields["method"].choices
            if (value == "phone" and sms_available) or (value == "email" and email_available)
        ]
        self.fields["method"].choices = methods
        if len(methods) == 1:
            self.fields["method"].initial = methods[0][0]

    def clean(self):
        data = super().clean()
        given = [k for k in ("area", "place", "drawn") if data.get(k)]
        if not given and not self.errors.get("drawn"):
            raise forms.ValidationError(
                _("Choose an area: a municipality or department, a place name, or draw it.")
            )
        if len(given) > 1:
            raise forms.ValidationError(
                _("Give only one area: a municipality or department, a place name, or a drawing.")
            )
        if data.get("place"):
            data["candidate"] = self._candidate(data.get("place_choice"))
        method = data.get("method")
        if method == "phone" and not data.get("phone"):
            self.add_error("phone", _("Enter the phone number the code and alerts go to."))
        if method == "email" and not data.get("email"):
            self.add_error("email", _("Enter the e-mail address the alerts go to."))
        return data

    def _candidate(self, choice: int | None):
        found = self.resolution
        if found is not None and found.unique is not None:
            return found.unique
        if not self.candidates:
            self.add_error("place", _("We did not find this place. Try the municipality's name."))
            return None
        if choice and 1 <= choice <= len(self.candidates):
            return self.candidates[choice - 1]
        self.add_error("place_choice", _("Several places have this name: choose one."))
        return None

    def area_field(self) -> str:
        """The field the area was given in (where a refused shape's error belongs)."""
        return next((k for k in ("drawn", "place", "area") if self.cleaned_data.get(k)), "area")

    def zone(self):
        """The zone the form names (InvalidInput for a shape that is refused)."""
        data = self.cleaned_data
        if data.get("area"):
            from sereno.geo.zones import zone_for_area

            return zone_for_area(data["area"])
        if data.get("candidate"):
            return services.zone_for_candidate(data["candidate"])
        return data["drawn"].zone()


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
    )


def error_field(form: forms.Form, error: InvalidInput) -> str | None:
    """The form field an error from a service belongs to (None: the whole form)."""
    mapping = {"address": form.cleaned_data.get("method"), "phone": "phone", "email": "email"}
    field = mapping.get(error.field or "", error.field)
    return field if field in form.fields else None
