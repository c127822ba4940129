"""Staff pages to configure messaging channels (admins: messaging.manage_channels)."""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from sereno.accounts.selectors import staff_verified
from sereno.lib.errors import InvalidInput, SerenoError
from sereno.messaging import channels as svc
from sereno.messaging.forms import ChannelConfigForm, ChannelCreateForm
from sereno.messaging.models import Channel
from sereno.messaging.transports import transport_for

# Where each kind's provider wants our URLs (endpoint name, what the provider calls it).
HOOKS = {
    "twilio_sms": [("", gettext_lazy("A message comes in (webhook, HTTP POST)"))],
    "twilio_whatsapp": [("", gettext_lazy("When a message comes in (HTTP POST)"))],
    "smssync": [("", gettext_lazy("Sync URL"))],
    "whatsapp": [("", gettext_lazy("Callback URL"))],
    "telegram": [("", gettext_lazy("Webhook (registered with the button below)"))],
    "kannel": [("", gettext_lazy("smsbox get-url / post-url"))],
    "email": [],
}


SHOW_SECRET = "messaging-show-generated-secret"  # noqa: S105 (a session key)
MASK = "••••••••"


def kannel_conf(channel: Channel, *, request=None, reveal: bool = False) -> str:
    """The lines of the `sms-service` group an admin pastes into kannel.conf (docs/kannel.md):
    the text in the body and the number in a header (`send-sender`), so neither is in a URL."""
    if channel.kind != Channel.Kind.KANNEL:
        return ""
    url = svc.hook_url(channel, request=request)
    scheme, _sep, rest = url.partition("://")
    secret = str(channel.config.get("secret") or "") if reveal else MASK
    return "\n".join(
        [
            "group = sms-service",
            "keyword = default",
            "catch-all = true",
            f'post-url = "{scheme}://kannel:{secret}@{rest}?id=%I&time=%T"',
            "send-sender = true",
            "accept-x-kannel-headers = true",
            "omit-empty = true",
            "max-messages = 0",
            "concatenation = true",
        ]
    )


def manager_view(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not staff_verified(request):
            back = request.get_full_path() if request.method == "GET" else reverse("channels:list")
            return redirect_to_login(back, reverse(settings.LOGIN_URL))
        if not request.user.has_perm(svc.MANAGE):
            raise PermissionDenied(_("You are not allowed to configure channels."))
        return view(request, *args, **kwargs)

    return wrapped


def _channel(pk: int) -> Channel:
    channel = Channel.objects.filter(pk=pk).first()
    if channel is None:
        raise Http404
    return channel


@manager_view
def channel_list(request):
    form = ChannelCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = svc.channel_create(actor=request.user, **form.cleaned_data)
        except SerenoError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return redirect("channels:edit", pk=channel.pk)
    rows = [
        {"channel": c, "missing": svc.missing_fields(c)}
        for c in Channel.objects.order_by("name", "pk")
    ]
    return render(request, "messaging/channel_list.html", {"rows": rows, "form": form})


@manager_view
def channel_edit(request, pk: int):
    channel = _channel(pk)
    form = ChannelConfigForm(request.POST or None, channel=channel)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        had_secret = bool(channel.config.get("secret"))
        try:
            svc.channel_configure(
                actor=request.user, channel=channel, values=form.config_values(),
                name=data["name"], address=data["address"], enabled=data["enabled"],
                rate_per_second=data["rate_per_second"], burst=data["burst"],
                price_per_segment=data["price_per_segment"], currency=data["currency"] or None,
            )  # fmt: skip
        except InvalidInput as error:
            missing = error.details.get("missing") or []
            form.add_error(None, error.message)
            for name in missing:
                if f"config_{name}" in form.fields:
                    form.add_error(f"config_{name}", _("Required to switch the channel on."))
        else:
            messages.success(request, _("Channel saved."))
            if not had_secret and channel.kind == Channel.Kind.KANNEL:
                # Shown once, on the next page: the secret we just made up (a flag in the
                # session, never the secret itself).
                request.session[SHOW_SECRET] = channel.pk
            return redirect("channels:edit", pk=channel.pk)
    hooks = [
        (label, svc.hook_url(channel, endpoint, request=request))
        for endpoint, label in HOOKS.get(channel.kind, [("", _("Webhook"))])
    ]
    show_secret = request.method == "GET" and request.session.pop(SHOW_SECRET, None) == channel.pk
    context = {
        "channel": channel,
        "kannel_conf": kannel_conf(channel, request=request, reveal=show_secret),
        "secret_shown": show_secret,
        "form": form,
        "hooks": hooks,
        "public_url_set": bool(settings.PUBLIC_URL),
        "missing": svc.missing_fields(channel),
    }
    return render(request, "messaging/channel_edit.html", context)


@require_POST
@manager_view
def telegram_webhook(request, pk: int):
    channel = _channel(pk)
    if channel.kind != Channel.Kind.TELEGRAM:
        raise Http404
    transport = transport_for(channel)
    try:
        transport.set_webhook()
    except InvalidInput:
        messages.error(request, _("Telegram needs the site's public https:// address: set "
                                  "SERENO_PUBLIC_URL."))  # fmt: skip
    except Exception as error:  # a refused token or an unreachable API: say so, log the type
        messages.error(
            request,
            _("Telegram did not accept the webhook (%(reason)s).")
            % {"reason": getattr(error, "detail", "") or type(error).__name__},
        )
    else:
        messages.success(request, _("Telegram will now send this bot's messages to Sereno."))
    finally:
        transport.close()
    return redirect("channels:edit", pk=channel.pk)
