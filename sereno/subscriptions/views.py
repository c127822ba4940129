"""/alertas/: subscribe to early-warning alerts on the web (plain forms, better with the map).

Pages send `Referrer-Policy: same-origin` (not the public pages' no-referrer) so that the
browser's Origin header lets Django's CSRF check pass; no other site learns anything.
"""

from django.conf import settings
from django.core import signing
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from sereno.lib import ratelimit
from sereno.lib.errors import InvalidInput, NotFound, TooMany
from sereno.subscriptions import services
from sereno.subscriptions.forms import CodeForm, SubscribeForm, error_field

CODE_SALT = "sereno.subscriptions.code-page"
CODE_PAGE_SECONDS = 3600


def _page(request, template: str, context: dict, status: int = 200):
    response = render(request, template, context, status=status)
    response["Referrer-Policy"] = "same-origin"
    return response


def _language(request) -> str:
    return "en" if (getattr(request, "LANGUAGE_CODE", "") or "").startswith("en") else "es"


def _link_base(request) -> str:
    return settings.PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


@never_cache
@require_http_methods(["GET", "POST"])
def subscribe(request):
    sms, email = services.sms_channel(), services.email_channel()
    available = {"sms_available": sms is not None, "email_available": email is not None}
    if request.method == "POST":
        form = SubscribeForm(request.POST, **available)
        if form.is_valid():
            done = _start(request, form)
            if done is not None:
                return done
        return _page(request, "subscriptions/subscribe.html", _context(form, sms, email), 422)
    form = SubscribeForm(initial={"language": _language(request)}, **available)
    return _page(request, "subscriptions/subscribe.html", _context(form, sms, email))


def _context(form, sms, email) -> dict:
    return {"form": form, "sms_channel": sms, "email_available": email is not None}


def _start(request, form):
    data = form.cleaned_data
    client = ratelimit.client_key(request)
    try:
        zone = form.zone()
    except InvalidInput as error:
        form.add_error(form.area_field(), error.message)
        return None
    try:
        if data["method"] == "phone":
            subscription = services.web_phone_start(
                phone=data["phone"], zone=zone, language=data["language"], client=client
            )
            token = signing.dumps(subscription.pk, salt=CODE_SALT)
            return redirect(reverse("subscriptions:code", args=[token]))
        services.web_email_start(
            email=data["email"],
            zone=zone,
            language=data["language"],
            client=client,
            link_base=_link_base(request),
        )
        return _page(request, "subscriptions/email_sent.html", {"zone": zone})
    except InvalidInput as error:
        form.add_error(error_field(form, error), error.message)
    except TooMany as error:
        form.add_error(None, error.message)
    return None


def _subscription_id(token: str) -> int | None:
    try:
        return int(signing.loads(token, salt=CODE_SALT, max_age=CODE_PAGE_SECONDS))
    except (signing.BadSignature, TypeError, ValueError):
        return None


@never_cache
@require_http_methods(["GET", "POST"])
def code(request, token: str):
    subscription_id = _subscription_id(token)
    if subscription_id is None:
        return _page(request, "subscriptions/problem.html", {"expired": True}, 404)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.web_code_confirm(
                subscription_id=subscription_id, code=form.cleaned_data["code"]
            )
        except services.Expired as error:
            return _page(request, "subscriptions/problem.html", {"message": error.message}, 410)
        except NotFound as error:
            return _page(request, "subscriptions/problem.html", {"message": error.message}, 404)
        except InvalidInput as error:
            form.add_error("code", error.message)
        else:
            return _page(request, "subscriptions/done.html", {"subscription": subscription})
    status = 422 if form.is_bound else 200
    return _page(request, "subscriptions/code.html", {"form": form}, status)


@never_cache
@require_http_methods(["GET", "POST"])
def email_confirm(request, pk: int, token: str):
    """GET shows a button (mail scanners open links; only a person's POST confirms)."""
    if request.method == "POST":
        try:
            subscription = services.web_email_confirm(subscription_id=pk, token=token)
        except (InvalidInput, NotFound) as error:
            return _page(request, "subscriptions/problem.html", {"message": error.message}, 410)
        return _page(request, "subscriptions/done.html", {"subscription": subscription})
    return _page(request, "subscriptions/email_confirm.html", {})


@never_cache
def unsubscribe_help(request):
    return _page(request, "subscriptions/unsubscribe.html", {})


@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows a button; POST cancels the subscription the signed link names."""
    try:
        if request.method == "POST":
            result = services.unsubscribe_by_token(token=token)
            context = {"subscription": result.subscription, "done": True}
        else:
            context = {"subscription": services.subscription_for_token(token), "done": False}
    except NotFound as error:
        return _page(request, "subscriptions/problem.html", {"message": error.message}, 404)
    return _page(request, "subscriptions/unsubscribe_link.html", context)
