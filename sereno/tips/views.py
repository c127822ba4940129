"""The source's pages: no JavaScript needed, no cookie until the receipt, nothing cached.

Django's CSRF cookie is not used here (it would be a cookie on the first visit): forms carry
a signed, single-use token instead (tokens.py). No view reads the client address.
"""

import time
from functools import wraps

from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from sereno.lib import ratelimit
from sereno.lib.crypto import seal_text, unseal_text
from sereno.lib.errors import InvalidInput, NotFound, TooMany
from sereno.tips import conf, crypto, selectors, services, tokens, uploads
from sereno.tips.models import Channel, Question, Tip

RECEIPT_SHOWN_SECONDS = 3600


def source_page(view):
    """No caching, no referrer, CSRF handled by our own tokens."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        add_never_cache_headers(response)
        response["Referrer-Policy"] = "no-referrer"
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    return csrf_exempt(wrapper)


def _limit(scope: str, visit: str, rate_session: str, rate_global: str) -> None:
    ratelimit.hit(f"tips.{scope}.visit", visit, rate_session)
    ratelimit.hit(f"tips.{scope}.global", "all", rate_global)


def _bad_form(request, error: tokens.BadForm, *, again: str):
    messages = {
        "replayed": _(
            "This form was already sent. Nothing was stored twice. If you want to send "
            "something else, open a new form."
        ),
        "expired": _("This form is too old. Nothing was stored. Open a new form and send again."),
        "invalid": _("This form is not valid. Nothing was stored. Open a new form."),
    }
    context = {"message": messages[error.reason], "again": again}
    return render(request, "tips/problem.html", context, status=400)


def _file_too_large(request, *, again: str):
    message = _("A file is larger than %(mb)d MB. Nothing was stored. Send smaller files.") % {
        "mb": conf.max_file_bytes() // (1024 * 1024)
    }
    return render(request, "tips/problem.html", {"message": message, "again": again}, status=413)


def _too_many(request, exc: TooMany, *, again: str):
    response = render(
        request, "tips/problem.html", {"message": exc.message, "again": again}, status=429
    )
    response["Retry-After"] = str(exc.retry_after)
    return response


# --- channels and submission -------------------------------------------------------------------


@source_page
def channels_view(request):
    channels = Channel.objects.filter(active=True)
    return render(request, "tips/channels.html", {"channels": channels})


def _form_context(channel: Channel, visit: str, *, values=None, errors=None, error=None):
    questions = list(channel.questions.all())
    file_question = next((q for q in questions if q.kind == Question.Kind.FILES), None)
    token = tokens.form_token(purpose=f"submit:{channel.slug}", visit=visit)
    return {
        "channel": channel,
        "questions": [q for q in questions if q.kind != Question.Kind.FILES],
        "file_question": file_question,
        "token": token,
        "pow_nonce": tokens.form_nonce(token),
        "values": values or {},
        "errors": errors or {},
        "error": error,
        "max_files": conf.get("TIPS_MAX_FILES"),
        "max_mb": conf.max_file_bytes() // (1024 * 1024),
        "pow_bits": conf.get("TIPS_POW_BITS"),
    }


@source_page
@require_http_methods(["GET", "POST"])
def submit_view(request, slug: str):
    channel = get_object_or_404(Channel, slug=slug, active=True)
    if request.method == "GET":
        return render(request, "tips/submit.html", _form_context(channel, tokens.new_visit()))
    uploads.use_private_uploads(request)
    try:
        if uploads.too_large(request):
            return _file_too_large(request, again=reverse("tips:submit", args=[channel.slug]))
        return _submit(request, channel)
    finally:
        uploads.shred_uploads(request)


def _submit(request, channel: Channel):
    again = reverse("tips:submit", args=[channel.slug])

    try:
        payload = tokens.check_form_token(
            request.POST.get("token", ""), purpose=f"submit:{channel.slug}"
        )
    except tokens.BadForm as error:
        return _bad_form(request, error, again=again)
    visit = payload["v"]
    with_pow = tokens.pow_valid(payload, request.POST.get("pow", ""))
    try:
        _limit(
            "submit", visit, conf.get("TIPS_RATE_SUBMIT_SESSION"),
            conf.get("TIPS_RATE_SUBMIT_GLOBAL_POW" if with_pow else "TIPS_RATE_SUBMIT_GLOBAL"),
        )  # fmt: skip
    except TooMany as exc:
        return _too_many(request, exc, again=again)

    answers = {key[1:]: value for key, value in request.POST.items() if key.startswith("q")}
    contact = request.POST.get("contact", "") if request.POST.get("notify") else ""
    files = request.FILES.getlist("files")
    try:
        tokens.consume(payload)
        tip, receipt = services.tip_submit(
            channel=channel, answers=answers, files=files, contact=contact
        )
    except tokens.BadForm as error:
        return _bad_form(request, error, again=again)
    except InvalidInput as exc:
        errors = exc.details or ({exc.field: exc.message} if exc.field else {})
        context = _form_context(channel, visit, values=answers, errors=errors, error=exc.message)
        context["contact"] = request.POST.get("contact", "")
        return render(request, "tips/submit.html", context, status=422)
    return _receipt_page(request, receipt=receipt, visit=visit, status=201)


def _receipt_page(request, *, receipt: str, visit: str, error: str = "", status: int = 200):
    shown = seal_text(f"{int(time.time())}|{visit}|{receipt}", purpose="tips.receipt-shown")
    context = {
        "words": receipt.split(),
        "shown": shown.hex(),
        "error": error,
    }
    return render(request, "tips/receipt.html", context, status=status)


def _set_source_cookie(request, response, *, tip: Tip, private_key: bytes, visit: str) -> None:
    response.set_cookie(
        tokens.SOURCE_COOKIE,
        tokens.source_cookie(tip_id=tip.pk, private_key=private_key, visit=visit),
        max_age=conf.get("TIPS_SOURCE_SESSION_SECONDS"), path=tokens.COOKIE_PATH,
        httponly=True, samesite="Strict", secure=request.is_secure(),
    )  # fmt: skip


@source_page
@require_POST
def receipt_confirm_view(request):
    try:
        stamp, visit, receipt = unseal_text(
            bytes.fromhex(request.POST.get("shown", "")), purpose="tips.receipt-shown"
        ).split("|", 2)
    except Exception:
        raise Http404 from None
    if int(stamp) + RECEIPT_SHOWN_SECONDS < time.time():
        return render(
            request, "tips/problem.html",
            {"message": _("This page is too old. Use your receipt on the return page."),
             "again": reverse("tips:return")},
            status=400,
        )  # fmt: skip
    typed = request.POST.get("typed", "")
    try:
        same = crypto.normalize_receipt(typed) == crypto.normalize_receipt(receipt)
    except crypto.MalformedReceipt:
        same = False
    if not same:
        message = _("That is not the same receipt. Copy it again, word by word, and check it.")
        return _receipt_page(request, receipt=receipt, visit=visit, error=message, status=422)
    try:  # opening costs an Argon2id: the same limits as the return page
        _limit(
            "receipt", visit, conf.get("TIPS_RATE_RECEIPT_SESSION"),
            conf.get("TIPS_RATE_RECEIPT_GLOBAL"),
        )  # fmt: skip
    except TooMany as exc:
        return _too_many(request, exc, again=reverse("tips:return"))
    tip, private_key = services.tip_open(receipt=receipt)
    response = redirect(reverse("tips:box") + "?confirmed=1", permanent=False)
    response.status_code = 303
    _set_source_cookie(request, response, tip=tip, private_key=private_key, visit=visit)
    return response


# --- return with the receipt -------------------------------------------------------------------


def _malformed_message(exc: crypto.MalformedReceipt) -> str:
    if exc.unknown:
        return _("These words are not in the receipt word list: %(words)s. Check the spelling.") % {
            "words": ", ".join(exc.unknown[:8])
        }
    return ngettext(
        "A receipt has 8 words; you wrote %(count)d word.",
        "A receipt has 8 words; you wrote %(count)d words.",
        exc.count,
    ) % {"count": exc.count}


@source_page
@require_http_methods(["GET", "POST"])
def return_view(request):
    again = reverse("tips:return")

    def page(visit, error="", status=200):
        context = {"token": tokens.form_token(purpose="return", visit=visit), "error": error}
        return render(request, "tips/return.html", context, status=status)

    if request.method == "GET":
        return page(tokens.new_visit())
    try:
        payload = tokens.check_form_token(request.POST.get("token", ""), purpose="return")
    except tokens.BadForm as error:
        return _bad_form(request, error, again=again)
    visit = payload["v"]
    receipt = request.POST.get("receipt", "")
    try:
        crypto.normalize_receipt(receipt)
    except crypto.MalformedReceipt as exc:
        return page(visit, _malformed_message(exc), status=422)
    try:
        tokens.consume(payload)
        _limit(
            "receipt", visit, conf.get("TIPS_RATE_RECEIPT_SESSION"),
            conf.get("TIPS_RATE_RECEIPT_GLOBAL"),
        )  # fmt: skip
        tip, private_key = services.tip_open(receipt=receipt)
    except tokens.BadForm as error:
        return _bad_form(request, error, again=again)
    except TooMany as exc:
        return _too_many(request, exc, again=again)
    except NotFound as exc:
        return page(visit, exc.message, status=403)
    response = redirect("tips:box")
    response.status_code = 303
    _set_source_cookie(request, response, tip=tip, private_key=private_key, visit=visit)
    return response


# --- the source's tip box ----------------------------------------------------------------------


def _source(request):
    session = tokens.read_source_cookie(request.COOKIES.get(tokens.SOURCE_COOKIE, ""))
    if session is None:
        return None, None
    tip = Tip.objects.filter(pk=session["tip"]).select_related("channel").first()
    return (tip, session) if tip else (None, None)


def _signed_out(request):
    response = render(
        request, "tips/problem.html",
        {"message": _("Your session has ended. Enter your receipt again."),
         "again": reverse("tips:return")},
        status=403,
    )  # fmt: skip
    response.delete_cookie(tokens.SOURCE_COOKIE, path=tokens.COOKIE_PATH)
    return response


def _box_page(request, tip, session, *, error="", status=200):
    visit = session["visit"]
    context = {
        "tip": tip,
        "entries": selectors.conversation(tip=tip, private_key=session["key"]),
        "token": tokens.form_token(purpose="comment", visit=visit, bound=tokens.bound_to(visit)),
        "leave_token": tokens.form_token(
            purpose="leave", visit=visit, bound=tokens.bound_to(visit)
        ),
        "error": error,
        "confirmed": request.GET.get("confirmed") == "1",
        "max_files": conf.get("TIPS_MAX_FILES"),
        "max_mb": conf.max_file_bytes() // (1024 * 1024),
    }
    response = render(request, "tips/box.html", context, status=status)
    _set_source_cookie(request, response, tip=tip, private_key=session["key"], visit=visit)
    return response


@source_page
def box_view(request):
    tip, session = _source(request)
    if tip is None:
        return _signed_out(request)
    return _box_page(request, tip, session)


@source_page
@require_POST
def box_comment_view(request):
    uploads.use_private_uploads(request)
    try:
        if uploads.too_large(request):
            return _file_too_large(request, again=reverse("tips:box"))
        return _box_comment(request)
    finally:
        uploads.shred_uploads(request)


def _box_comment(request):
    tip, session = _source(request)
    if tip is None:
        return _signed_out(request)
    again = reverse("tips:box")
    try:
        bound = tokens.bound_to(session["visit"])
        payload = tokens.check_form_token(
            request.POST.get("token", ""), purpose="comment", bound=bound
        )
        ratelimit.hit("tips.comment.visit", session["visit"], conf.get("TIPS_RATE_COMMENT_SESSION"))
        tokens.consume(payload)
        services.tip_comment(
            tip=tip, text=request.POST.get("text", ""), files=request.FILES.getlist("files")
        )
    except tokens.BadForm as error:
        return _bad_form(request, error, again=again)
    except TooMany as exc:
        return _too_many(request, exc, again=again)
    except InvalidInput as exc:
        return _box_page(request, tip, session, error=exc.message, status=422)
    response = redirect("tips:box")
    response.status_code = 303
    return response


@source_page
@require_POST
def box_leave_view(request):
    response = redirect("tips:channels")
    response.status_code = 303
    response.delete_cookie(tokens.SOURCE_COOKIE, path=tokens.COOKIE_PATH)
    return response
