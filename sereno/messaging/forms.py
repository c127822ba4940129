"""Forms of the channel configuration pages: built from each transport's `config_fields`.
Secret fields are write-only: never rendered back, and a blank one keeps the stored value."""

from django import forms
from django.utils.translation import gettext_lazy as _

from sereno.messaging.channels import config_fields, generated_fields, secret_fields
from sereno.messaging.models import Channel

LABELS = {
    "account_sid": _("Account SID"),
    "auth_token": _("Auth token"),
    "from_number": _("Sender number"),
    "messaging_service_sid": _("Messaging service SID (instead of a sender number)"),
    "api_base": _("API address (blank: the provider's own)"),
    "secret": _("Secret shared with the phone"),
    "batch_size": _("Messages handed to the phone per poll"),
    "lease_seconds": _("Seconds the phone has to confirm it queued them"),
    "phone_number_id": _("Phone number ID"),
    "access_token": _("Access token"),
    "app_secret": _("App secret"),
    "verify_token": _("Verify token (made up when left blank)"),
    "bot_token": _("Bot token (from BotFather)"),
    "secret_token": _("Webhook secret token (made up when left blank)"),
    "from_address": _("Reply address"),
    "subject": _("Subject of outgoing mail"),
    "imap_host": _("IMAP server"),
    "imap_port": _("IMAP port"),
    "imap_security": _("IMAP security"),
    "imap_user": _("IMAP user"),
    "imap_password": _("IMAP password"),
    "imap_folder": _("IMAP folder (blank: INBOX)"),
    "smtp_host": _("SMTP server"),
    "smtp_port": _("SMTP port"),
    "smtp_security": _("SMTP security"),
    "smtp_user": _("SMTP user (blank: no login)"),
    "smtp_password": _("SMTP password"),
}
SECURITY_CHOICES = [
    ("ssl", _("TLS from the start (SSL)")),
    ("starttls", _("STARTTLS")),
    ("none", _("None (only on a trusted network)")),
]


class ChannelCreateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Channel.Kind.choices)
    name = forms.CharField(label=_("Name"), max_length=100)
    address = forms.CharField(
        label=_("Our address on this channel"), max_length=200, required=False,
        help_text=_("The number, bot name or reply address people write to (public)."),
    )  # fmt: skip


class ChannelConfigForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    address = forms.CharField(label=_("Our address on this channel"), max_length=200,
                              required=False)  # fmt: skip
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    rate_per_second = forms.FloatField(label=_("Segments per second"), min_value=0.001)
    burst = forms.IntegerField(label=_("Burst"), min_value=1)
    price_per_segment = forms.DecimalField(
        label=_("Price per SMS segment"), min_value=0, max_digits=8, decimal_places=4,
        required=False,
        help_text=_("What the route charges per segment; staff see each message's cost."),
    )  # fmt: skip
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3, required=False)

    def __init__(self, *args, channel: Channel, **kwargs):
        super().__init__(*args, **kwargs)
        self.channel = channel
        config = channel.config
        secret = set(secret_fields(channel.kind))
        generated = set(generated_fields(channel.kind))
        self.config_names = list(config_fields(channel.kind))
        for name in self.config_names:
            label = LABELS.get(name, name.replace("_", " ").capitalize())
            if name in secret:
                stored = bool(config.get(name))
                help_text = (
                    _("Stored. Leave blank to keep it; it is never shown again.")
                    if stored
                    else _("Not set yet.")
                )
                if name in generated and not stored:
                    help_text = (
                        _(
                            "Type one, or leave blank and Sereno makes one up and shows it "
                            "once, in the kannel.conf lines on the next page."
                        )
                        if channel.kind == Channel.Kind.KANNEL
                        else _(
                            "Type one, or leave blank and Sereno makes one up. It is never "
                            "shown: type it yourself if you must also enter it at the provider."
                        )
                    )
                field = forms.CharField(
                    label=label, required=False, help_text=help_text, strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                )  # fmt: skip
            elif name.endswith("_security"):
                field = forms.ChoiceField(label=label, required=False, choices=SECURITY_CHOICES)
            else:
                field = forms.CharField(label=label, required=False, max_length=500)
            self.fields[f"config_{name}"] = field
        self.initial.update(
            {
                "name": channel.name,
                "address": channel.address,
                "enabled": channel.enabled,
                "rate_per_second": channel.rate_per_second,
                "burst": channel.burst,
                "price_per_segment": channel.price_per_segment,
                "currency": channel.currency,
                **{f"config_{n}": config.get(n, "") for n in self.config_names if n not in secret},
            }
        )

    def config_values(self) -> dict:
        return {name: self.cleaned_data.get(f"config_{name}", "") for name in self.config_names}
