"""Staff pages for alerts (/staff/alerts/): list, draft, detail with its decisions and the
fan-out's live progress (an htmx-polled fragment). Views parse input and call one service."""

import functools

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from sereno.accounts.selectors import staff_verified
from sereno.alerts import fanout, selectors, services
from sereno.alerts.area import zones_from_input
from sereno.alerts.forms import AlertForm, initial_from_alert, initial_from_query
from sereno.alerts.models import Alert
from sereno.alerts.services import APPROVE, DRAFT
from sereno.lib.errors import InvalidInput, NotFound, SerenoError


def alerts_view(*perms: str):
    """Signed in with the second factor, holding one of `perms` (else 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not staff_verified(request):
                back = (
                    request.get_full_path() if request.method == "GET" else reverse("alerts:list")
                )
                return redirect_to_login(back, reverse(settings.LOGIN_URL))
            if not any(request.user.has_perm(p) for p in perms):
                raise PermissionDenied(_("You are not allowed to do this."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _alert(identifier) -> Alert:
    try:
        return selectors.staff_alert(identifier)
    except NotFound as error:
        raise Http404 from error


def _progress(alert: Alert) -> dict | None:
    """The fan-out's counts, once the alert is published."""
    if alert.state not in (Alert.State.PUBLISHED, Alert.State.SUPERSEDED):
        return None
    return fanout.progress(alert)


@require_safe
@alerts_view(DRAFT, APPROVE)
def alert_list(request):
    state = request.GET.get("state") or None
    if state not in Alert.State.values:
        state = None
    page = Paginator(selectors.staff_alerts(state), 25).get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/staff/list.html",
        {"page": page, "state": state, "states": Alert.State.choices},
    )


@alerts_view(DRAFT)
def alert_draft(request):
    if request.method == "POST":
        form = AlertForm(request.POST)
        if form.is_valid():
            alert = _save(form, functools.partial(services.alert_draft, by=request.user))
            if alert is not None:
                messages.success(request, _("Draft saved. Submit it for approval when ready."))
                return redirect("alerts:detail", alert.identifier)
        return _form_page(request, form, status=422)
    return _form_page(request, AlertForm(initial=initial_from_query(request.GET)))


@alerts_view(DRAFT)
def alert_edit(request, identifier):
    alert = _alert(identifier)
    current = list(alert.zones.all())
    if request.method == "POST":
        form = AlertForm(request.POST, current_zones=current)
        if form.is_valid():
            write = functools.partial(services.alert_update_draft, alert=alert, by=request.user)
            saved = _save(form, write)
            if saved is not None:
                messages.success(request, _("Changes saved; the alert is a draft again."))
                return redirect("alerts:detail", alert.identifier)
        return _form_page(request, form, alert=alert, status=422)
    form = AlertForm(initial=initial_from_alert(alert), current_zones=current)
    return _form_page(request, form, alert=alert)


@alerts_view(DRAFT)
def alert_follow_up(request, identifier):
    original = _alert(identifier)
    msg_type = request.GET.get("type") or request.POST.get("msg_type")
    if msg_type not in (Alert.MsgType.UPDATE, Alert.MsgType.CANCEL):
        msg_type = Alert.MsgType.UPDATE
    current = list(original.zones.all())
    if request.method == "POST":
        form = AlertForm(request.POST, current_zones=current)
        if form.is_valid():
            write = functools.partial(
                services.alert_follow_up, original=original, msg_type=msg_type, by=request.user
            )
            alert = _save(form, write)
            if alert is not None:
                messages.success(request, _("Draft saved. Submit it for approval when ready."))
                return redirect("alerts:detail", alert.identifier)
        return _form_page(request, form, original=original, msg_type=msg_type, status=422)
    form = AlertForm(initial=initial_from_alert(original, msg_type), current_zones=current)
    return _form_page(request, form, original=original, msg_type=msg_type)


def _save(form: AlertForm, write):
    """Zones from the area fields, then the service; an error goes back onto the form."""
    try:
        with transaction.atomic():
            zones = form.kept_zones() + zones_from_input(**form.area_input()) + form.drawn_zones()
            zones = list({z.pk: z for z in zones}.values())
            return write(zones=zones, **form.alert_fields(zones))
    except SerenoError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None


def _form_page(request, form, *, alert=None, original=None, msg_type=None, status=200):
    context = {"form": form, "alert": alert, "original": original, "msg_type": msg_type}
    return render(request, "alerts/staff/form.html", context, status=status)


@require_safe
@alerts_view(DRAFT, APPROVE)
def alert_detail(request, identifier):
    alert = _alert(identifier)
    user = request.user
    context = {
        "alert": alert,
        "zones": list(alert.zones.all()),
        "progress": _progress(alert),
        "can_edit": user.has_perm(DRAFT) and alert.state in services.EDITABLE_STATES,
        "can_submit": user.has_perm(DRAFT) and alert.state == Alert.State.DRAFT,
        "can_decide": user.has_perm(APPROVE) and alert.state == Alert.State.SUBMITTED,
        "own": alert.created_by_id == user.pk,
        "can_follow_up": user.has_perm(DRAFT) and alert.state == Alert.State.PUBLISHED,
        "public_url": reverse("public_alerts:page", args=[alert.identifier]),
        "cap_url": reverse("public_alerts:cap", args=[alert.identifier]),
    }
    return render(request, "alerts/staff/detail.html", context)


@require_safe
@alerts_view(DRAFT, APPROVE)
def alert_progress(request, identifier):
    alert = _alert(identifier)
    return render(
        request, "alerts/staff/_progress.html", {"alert": alert, "progress": _progress(alert)}
    )


@require_POST
@alerts_view(DRAFT)
def alert_submit(request, identifier):
    return _act(request, identifier, services.alert_submit, _("Submitted for approval."))


@require_POST
@alerts_view(APPROVE)
def alert_approve(request, identifier):
    return _act(request, identifier, services.alert_approve, _("Approved and published."))


@require_POST
@alerts_view(APPROVE)
def alert_reject(request, identifier):
    reason = request.POST.get("reason", "")
    return _act(
        request, identifier, functools.partial(services.alert_reject, reason=reason),
        _("Rejected; the drafter can edit it and submit it again."),
    )  # fmt: skip


def _act(request, identifier, service, done: str):
    alert = _alert(identifier)
    try:
        service(alert=alert, by=request.user)
    except InvalidInput as error:
        messages.error(request, error.message)
    except SerenoError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from error
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("alerts:detail", alert.identifier)
