"""Recipients' pages: key onboarding, unlock, inbox, a tip's conversation, replies, files;
and the administrators' key-escrow page. Signed in through accounts (password + TOTP)."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.encoding import escape_uri_path
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from sereno.accounts.audit import audit_append
from sereno.accounts.selectors import confirmed_totp_device
from sereno.lib import ratelimit
from sereno.lib.crypto import seal_text, unseal_text
from sereno.lib.errors import Conflict, InvalidInput, NotAllowed, TooMany
from sereno.tips import crypto, keys, selectors, services, tokens
from sereno.tips.forms import ChannelForm, QuestionFormSet
from sereno.tips.models import Channel, RecipientKey, TipFile

UNLOCK_RATE = "5/900"


def _staff_headers(response):
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "same-origin"  # Django's CSRF check needs an Origin
    return response


def _verified(request) -> bool:
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return False
    # Tip recipients always need a second factor, whatever SERENO_2FA_ROLES says.
    return bool(getattr(user, "is_verified", None) and user.is_verified())


def staff_page(*, recipient: bool = True, perm: str = ""):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not _verified(request):
                if confirmed_totp_device(user) is None:
                    setup = reverse("accounts:totp_setup")
                    return redirect(f"{setup}?{urlencode({'next': request.get_full_path()})}")
                return redirect_to_login(request.get_full_path())
            if recipient and not keys.is_recipient(user):
                raise PermissionDenied
            if perm and not user.has_perm(perm):
                raise PermissionDenied
            return _staff_headers(view(request, *args, **kwargs))

        return wrapper

    return decorator


# --- keys --------------------------------------------------------------------------------------


def _recovery_page(request, recovery: str, *, error: str = "", status: int = 200):
    context = {
        "recovery": recovery,
        "shown": seal_text(recovery, purpose="tips.recovery-shown").hex(),
        "error": error,
    }
    return render(request, "tips/staff/recovery.html", context, status=status)


@staff_page()
@require_http_methods(["GET", "POST"])
def keys_view(request):
    user = request.user
    key = RecipientKey.objects.filter(user=user).first()
    error, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                password = request.POST.get("password", "")
                recovery = keys.recipient_key_create(user=user, password=password)
                return _recovery_page(request, recovery)
            if action == "renew":
                recovery = keys.recipient_recovery_renew(
                    user=user, password=request.POST.get("password", "")
                )
                return _recovery_page(request, recovery)
            if action == "confirm":
                shown = unseal_text(
                    bytes.fromhex(request.POST.get("shown", "")), purpose="tips.recovery-shown"
                )
                if keys.recipient_recovery_confirm(
                    user=user, typed=request.POST.get("typed", ""), recovery_key=shown
                ):
                    return redirect("tips:inbox")
                return _recovery_page(
                    request, shown, status=422,
                    error=_("That is not the same recovery key. Copy it again and check it."),
                )  # fmt: skip
        except (InvalidInput, Conflict, NotAllowed) as exc:
            error, status = exc.message, exc.status
        except ValueError:
            raise Http404 from None
    context = {"key": key, "error": error, "escrow": keys.escrow_enabled()}
    return render(request, "tips/staff/keys.html", context, status=status)


@staff_page()
@require_http_methods(["GET", "POST"])
def password_view(request):
    error, status, done = "", 200, False
    if request.method == "POST":
        try:
            keys.recipient_password_change(
                user=request.user,
                old_password=request.POST.get("old_password", ""),
                new_password=request.POST.get("new_password", ""),
            )
            done = True
            from django.contrib.auth import update_session_auth_hash

            update_session_auth_hash(request, request.user)
        except (InvalidInput, Conflict) as exc:
            error, status = exc.message, exc.status
    return render(
        request, "tips/staff/password.html", {"error": error, "done": done}, status=status
    )


@staff_page()
@require_http_methods(["GET", "POST"])
def recover_view(request):
    error, status = "", 200
    if request.method == "POST":
        try:
            ratelimit.hit("tips.unlock", str(request.user.pk), UNLOCK_RATE)
            private = keys.recipient_recover(
                user=request.user,
                recovery_key=request.POST.get("recovery", ""),
                password=request.POST.get("password", ""),
            )
        except TooMany as exc:
            error, status = exc.message, 429
        except (InvalidInput, Conflict) as exc:
            error, status = exc.message, exc.status
        else:
            response = redirect("tips:inbox")
            tokens.stash_recipient_key(request, response, private)
            return response
    return render(request, "tips/staff/recover.html", {"error": error}, status=status)


# --- inbox -------------------------------------------------------------------------------------


@staff_page()
def inbox_view(request):
    key = RecipientKey.objects.filter(user=request.user).first()
    if key is None or not key.recovery_confirmed:
        return redirect("tips:keys")
    unlocked = tokens.recipient_key(request) is not None
    tips = list(selectors.inbox(user=request.user)) if unlocked else []
    return render(request, "tips/staff/inbox.html", {"unlocked": unlocked, "tips": tips})


@staff_page()
@require_POST
def unlock_view(request):
    try:
        ratelimit.hit("tips.unlock", str(request.user.pk), UNLOCK_RATE)
        password = request.POST.get("password", "")
        private = keys.recipient_unlock(user=request.user, password=password)
    except (InvalidInput, Conflict, TooMany) as exc:
        context = {"unlocked": False, "tips": [], "error": exc.message}
        return render(request, "tips/staff/inbox.html", context, status=exc.status)
    ratelimit.refund("tips.unlock", str(request.user.pk), UNLOCK_RATE)
    response = redirect("tips:inbox")
    tokens.stash_recipient_key(request, response, private)
    return response


@staff_page()
@require_POST
def lock_view(request):
    response = redirect("tips:inbox")
    tokens.forget_recipient_key(request, response)
    return response


def _open_tip(request, tip_id):
    tip = selectors.tip_for_recipient(user=request.user, tip_id=tip_id)
    if tip is None:
        raise Http404
    private = tokens.recipient_key(request)
    if private is None:
        return tip, None
    return tip, services.tip_key_for(tip=tip, user=request.user, private_key=private)


@staff_page()
def tip_view(request, tip_id):
    tip, tip_key = _open_tip(request, tip_id)
    if tip_key is None:
        return redirect("tips:inbox")
    entries = selectors.conversation(tip=tip, private_key=tip_key)
    services.tip_opened(tip=tip, user=request.user)
    services.tip_share_missing(tip=tip, tip_private_key=tip_key, actor=request.user)
    context = {
        "tip": tip,
        "entries": entries,
        "notify": bool(tip.contact_sealed),
        "error": request.GET.get("error", ""),
    }
    return render(request, "tips/staff/tip.html", context)


@staff_page()
@require_POST
def reply_view(request, tip_id):
    tip, tip_key = _open_tip(request, tip_id)
    if tip_key is None:
        return redirect("tips:inbox")
    try:
        services.tip_reply(
            tip=tip, user=request.user, text=request.POST.get("text", ""), tip_private_key=tip_key
        )
    except InvalidInput as exc:
        entries = selectors.conversation(tip=tip, private_key=tip_key)
        context = {"tip": tip, "entries": entries, "notify": bool(tip.contact_sealed),
                   "error": exc.message}  # fmt: skip
        return render(request, "tips/staff/tip.html", context, status=422)
    return redirect("tips:tip", tip_id=tip.pk)


@staff_page()
@require_POST
def extend_view(request, tip_id):
    tip, _tip_key = _open_tip(request, tip_id)
    services.tip_extend(tip=tip, user=request.user)
    return redirect("tips:tip", tip_id=tip.pk)


@staff_page()
def file_view(request, tip_id, file_id: int, which: str):
    tip, tip_key = _open_tip(request, tip_id)
    if tip_key is None:
        return redirect("tips:inbox")
    tip_file = TipFile.objects.filter(tip=tip, pk=file_id).first()
    if tip_file is None or which not in ("original", "clean"):
        raise Http404
    rel = tip_file.original_path if which == "original" else tip_file.derivative_path
    sealed_key = tip_file.original_key if which == "original" else tip_file.derivative_key
    if not rel or not sealed_key:
        raise Http404
    meta = selectors.file_meta(tip_key, tip_file)
    file_key = crypto.open_sealed(tip_key, sealed_key)
    name = meta.get("name") if which == "original" else meta.get("derivative_name")
    response = StreamingHttpResponse(
        crypto.decrypt_file(services.storage_dir() / rel, key=file_key),
        content_type="application/octet-stream",
    )
    quoted = escape_uri_path(name or "file")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quoted}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- channels ----------------------------------------------------------------------------------


@staff_page(recipient=False, perm="tips.manage_tips")
def channels_manage_view(request):
    channels = Channel.objects.annotate(tip_count=Count("tips", distinct=True)).prefetch_related(
        "recipients"
    )
    return render(request, "tips/staff/channels.html", {"channels": channels})


@staff_page(recipient=False, perm="tips.manage_tips")
@require_http_methods(["GET", "POST"])
def channel_edit_view(request, pk: int | None = None):
    channel = get_object_or_404(Channel, pk=pk) if pk else Channel()
    form = ChannelForm(request.POST or None, instance=channel)
    questions = QuestionFormSet(request.POST or None, instance=channel, prefix="q")
    if request.method == "POST" and form.is_valid() and questions.is_valid():
        with transaction.atomic():
            channel = form.save()
            questions.instance = channel
            questions.save()
            services.channel_recipients_changed(channel=channel)
            audit_append(
                actor=request.user, action="tips.channel_saved", object_type="tip_channel",
                object_id=channel.pk,
                after={"slug": channel.slug,
                       "recipients": [u.pk for u in channel.recipients.all()]},
            )  # fmt: skip
        return redirect("tips:channels_manage")
    context = {"form": form, "questions": questions, "channel": channel}
    return render(request, "tips/staff/channel_form.html", context)


# --- escrow ------------------------------------------------------------------------------------


@staff_page(recipient=False, perm="tips.manage_tips")
@require_http_methods(["GET", "POST"])
def escrow_view(request):
    error, shown_key = "", ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "enable":
                if request.POST.get("understood") != "yes":
                    raise InvalidInput(_("Tick the box to say you understand the risk."))
                shown_key = keys.escrow_enable(actor=request.user)
            elif request.POST.get("action") == "disable":
                keys.escrow_disable(actor=request.user)
        except (InvalidInput, Conflict, NotAllowed) as exc:
            error = exc.message
    context = {"enabled": keys.escrow_enabled(), "error": error, "shown_key": shown_key}
    return render(request, "tips/staff/escrow.html", context)
