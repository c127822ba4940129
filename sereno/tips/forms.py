"""Staff forms: a tip channel and its questionnaire."""

from django import forms
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from sereno.accounts.models import User
from sereno.tips.models import Channel, Question


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = [
            "name", "name_en", "slug", "description", "description_en", "active",
            "allow_files", "retention_days", "order", "recipients",
        ]  # fmt: skip
        widgets = {
            "recipients": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 3}),
            "description_en": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = User.objects.filter(
            groups__name="tip_recipient", is_active=True
        ).order_by("username")
        self.fields["retention_days"].min_value = 1

    def clean_retention_days(self) -> int:
        days = self.cleaned_data["retention_days"]
        if days < 1:
            raise forms.ValidationError(_("Keep tips at least one day."))
        return days


QuestionFormSet = inlineformset_factory(
    Channel,
    Question,
    fields=[
        "order",
        "kind",
        "label",
        "label_en",
        "help",
        "help_en",
        "required",
        "choices",
        "choices_en",
    ],  # fmt: skip
    widgets={
        "choices": forms.Textarea(attrs={"rows": 2}),
        "choices_en": forms.Textarea(attrs={"rows": 2}),
    },
    extra=2,
    can_delete=True,
)
