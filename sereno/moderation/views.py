"""The moderation desk: server-rendered pages (htmx where a part updates). Views parse input,
call one service or selector, and render; every rule lives in sereno.reports.services."""

import functools
import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from sereno.accounts.selectors import staff_verified
from sereno.geo import gazetteer
from sereno.lib.crypto import unseal_text
from sereno.lib.errors import InvalidInput, Locked, NotFound, SerenoError
from sereno.messaging.conversations import staff as conversation_staff
from sereno.moderation import history as history_text
from sereno.moderation import selectors as desk
from sereno.moderation.forms import BULK_ACTIONS, BulkForm, EditForm, QueueFilterForm
from sereno.reports import selectors, services
from sereno.reports.media import open_cleaned
from sereno.reports.models import Media, Report, Status
from sereno.reports.schemas import H3_EDGE_M, occurred_text
from sereno.reports.workflow import REASON_REQUIRED, TRANSITIONS

VIEW = "reports.view_report"
MODERATE = "reports.moderate_report"
PAGE_SIZE = 25
# The buttons of the detail page, in the order shown, with their keyboard shortcut.
ACTIONS = [
    (Status.VERIFIED, "v"),
    (Status.PUBLISHED, "p"),
    (Status.REJECTED, "r"),
    (Status.ARCHIVED, ""),
    (Status.RECEIVED, ""),
]


def desk_view(perm: str = VIEW):
    """Signed in, second factor passed this session, and `perm` (plus reports.view_report).
    Anonymous and unverified sessions go to the sign-in page; others get 403."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not staff_verified(request):
                # After a POST the sign-in should lead back to a page, not to the POST target.
                back = request.get_full_path() if request.method == "GET" else reverse("desk:queue")
                return redirect_to_login(back, reverse(settings.LOGIN_URL))
            if not (request.user.has_perm(VIEW) and request.user.has_perm(perm)):
                raise PermissionDenied(_("You are not allowed to do this."))
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def _htmx(request) -> bool:
    """An htmx request for a fragment (boosted requests want whole pages)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-Boosted")


def _report(reference: str) -> Report:
    try:
        return selectors.staff_report(reference)
    except NotFound as error:
        raise Http404(error.message) from error


def _detail_url(report_or_ref) -> str:
    ref = getattr(report_or_ref, "reference", report_or_ref)
    return reverse("desk:detail", args=[ref])


def _back(request, default: str) -> str:
    """A desk URL to return to (the queue with its filters), never another site."""
    candidate = request.POST.get("next") or ""
    if candidate.startswith("/desk/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}
    ):
        return candidate
    return default


# --- queue -------------------------------------------------------------------------------------


@require_safe
@desk_view()
def queue(request):
    form = QueueFilterForm(request.GET)
    valid = form.is_valid()
    page, error = None, None
    if valid:
        try:
            qs = desk.desk_queue(form.filters())
            page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        except InvalidInput as exc:
            error = exc.message
    status = form.status_value()
    params = {k: v for k, v in request.GET.items() if k not in ("page", "status") and v}
    counts = selectors.status_counts()
    tabs = [
        (value, label, counts.get(value, 0), urlencode({**params, "status": value}))
        for value, label in Status.choices
    ]
    tabs.append(("all", _("all"), sum(counts.values()), urlencode({**params, "status": "all"})))
    context = {
        "form": form,
        "page": page,
        "rows": [_row(r) for r in page.object_list] if page else [],
        "error": error,
        "status": status,
        "tabs": tabs,
        "page_query": urlencode({**params, "status": status}),
        "can_moderate": request.user.has_perm(MODERATE),
        "bulk_actions": BULK_ACTIONS,
        "now": timezone.now(),
    }
    code = 400 if (not valid or error) else 200
    template = "moderation/_queue_results.html" if _htmx(request) else "moderation/queue.html"
    return render(request, template, context, status=code)


def _lock_live(report: Report) -> bool:
    return bool(
        report.locked_by_id and report.locked_until and report.locked_until > timezone.now()
    )


def _row(report: Report) -> dict:
    return {
        "report": report,
        "occurred": occurred_text(report),
        "department": gazetteer.department_name(report.department_code),
        "locked": _lock_live(report),
    }


@require_POST
@desk_view(MODERATE)
def bulk(request):
    back = _back(request, reverse("desk:queue"))
    references = list(dict.fromkeys(r.strip().upper() for r in request.POST.getlist("ids") if r))
    form = BulkForm(request.POST, references)
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, message)
        messages.info(request, _("Nothing was changed."))
        return redirect(back)
    ids = dict(Report.objects.filter(reference__in=references).values_list("reference", "pk"))
    to_status = BULK_ACTIONS[form.cleaned_data["action"]]
    result = services.report_bulk_transition(
        actor=request.user, report_ids=list(ids.values()), to_status=to_status,
        reason=form.cleaned_data["reason"],
    )  # fmt: skip
    holders = desk.locked_by_others(list(result.skipped), request.user)
    other = {ref: why for ref, why in result.skipped.items() if ref not in holders}
    other.update({ref: _("No such report.") for ref in references if ref not in ids})
    if result.done:
        messages.success(
            request,
            _("%(status)s: %(refs)s")
            % {"status": Status(to_status).label.capitalize(), "refs": ", ".join(result.done)},
        )
    if holders:
        messages.warning(
            request,
            _("Skipped because someone else holds the lock: %(refs)s")
            % {"refs": ", ".join(f"{ref} ({user})" for ref, user in sorted(holders.items()))},
        )
    for ref, why in sorted(other.items()):
        messages.warning(request, _("Skipped %(ref)s: %(why)s") % {"ref": ref, "why": why})
    return redirect(back)


# --- detail ------------------------------------------------------------------------------------


def _detail_context(request, report: Report, **extra) -> dict:
    user = request.user
    lock_live = _lock_live(report)
    can_moderate = user.has_perm(MODERATE) and not report.merged_into_id
    contact = None
    if report.contact_encrypted and user.has_perm("reports.view_reporter_contact"):
        contact = unseal_text(report.contact_encrypted, purpose=services.CONTACT_PURPOSE)
    allowed = TRANSITIONS.get(report.status, set())
    actions = [
        {"status": s, "label": Status(s).label, "key": key, "needs_reason": s in REASON_REQUIRED}
        for s, key in ACTIONS
        if s in allowed
    ]
    history = None
    if user.has_perm("accounts.view_audit"):
        history = [
            (entry, history_text.action_label(entry.action), history_text.changes(entry))
            for entry in selectors.report_history(report.reference)
        ]
    context = {
        "report": report,
        "occurred": occurred_text(report),
        "department": gazetteer.department_name(report.department_code),
        "exact": user.has_perm("reports.view_exact_location") and report.latitude is not None,
        "radius": H3_EDGE_M.get(report.public_resolution or 0, 0),
        "tile_url": settings.TILE_URL,
        "contact": contact,
        "media": list(report.media.all()),
        "lock_live": lock_live,
        "lock_mine": lock_live and report.locked_by_id == user.pk,
        "lock_other": lock_live and report.locked_by_id != user.pk,
        "can_moderate": can_moderate,
        "actions": actions if can_moderate else [],
        "history": history,
        "comments": list(report.comments.all()),
        "duplicates": desk.duplicate_candidates(report),
        "dup_km": desk.DUPLICATE_KM,
        "dup_days": desk.DUPLICATE_DAYS,
        **_thread_context(report, can_moderate),
    }
    context.update(extra)
    return context


def _thread_context(report: Report, can_moderate: bool) -> dict:
    """The SMS/chat thread of a report that came from a conversation (contact reference only,
    never the number), and what the reply form needs."""
    return {
        "thread": conversation_staff.report_thread(report),
        "can_reply": can_moderate,
        "reply_nonce": secrets.token_urlsafe(16),
        "reply_max": conversation_staff.MAX_REPLY,
    }


@require_safe
@desk_view()
def detail(request, reference: str):
    report = _report(reference)
    return render(request, "moderation/detail.html", _detail_context(request, report))


def _fail(request, error: SerenoError, reference: str):
    messages.error(request, error.message)
    return redirect(_detail_url(reference))


@require_POST
@desk_view(MODERATE)
def transition(request, reference: str):
    report = _report(reference)
    to_status = request.POST.get("status", "")
    try:
        report = services.report_transition(
            actor=request.user, report_id=report.pk, to_status=to_status,
            reason=request.POST.get("reason", ""),
        )  # fmt: skip
    except SerenoError as error:
        return _fail(request, error, reference)
    messages.success(
        request,
        _("Report %(ref)s is now %(status)s.")
        % {"ref": report.reference, "status": Status(report.status).label},
    )
    return redirect(_back(request, _detail_url(report)))


@require_POST
@desk_view(MODERATE)
def lock(request, reference: str):
    report = _report(reference)
    try:
        services.report_lock(actor=request.user, report_id=report.pk)
    except SerenoError as error:
        return _fail(request, error, reference)
    return redirect("desk:edit", reference=report.reference)


@require_POST
@desk_view(MODERATE)
def unlock(request, reference: str):
    report = _report(reference)
    services.report_unlock(actor=request.user, report_id=report.pk)
    messages.info(request, _("You released the lock."))
    return redirect(_detail_url(report))


@desk_view(MODERATE)
def edit(request, reference: str):
    report = _report(reference)
    if not (_lock_live(report) and report.locked_by_id == request.user.pk):
        messages.error(request, _("Take the lock first: press “Edit” on the report."))
        return redirect(_detail_url(report))
    form = EditForm(request.POST if request.method == "POST" else None, report=report)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        if not changes:
            services.report_unlock(actor=request.user, report_id=report.pk)
            messages.info(request, _("Nothing was changed."))
            return redirect(_detail_url(report))
        try:
            services.report_edit(
                actor=request.user, report_id=report.pk, changes=changes,
                reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except Locked as error:
            return _fail(request, error, reference)
        except SerenoError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            services.report_unlock(actor=request.user, report_id=report.pk)
            messages.success(request, _("Changes saved."))
            return redirect(_detail_url(report))
    status = 400 if form.is_bound else 200
    return render(request, "moderation/edit.html", {"report": report, "form": form}, status=status)


@require_POST
@desk_view(MODERATE)
def merge(request, reference: str):
    target = _report(reference)
    source_ref = (request.POST.get("source") or "").strip().upper()
    source = Report.objects.filter(reference=source_ref).only("pk").first()
    if source is None:
        messages.error(request, _("No such report: %(refs)s") % {"refs": source_ref or "—"})
        return redirect(_detail_url(target))
    try:
        services.report_merge(
            actor=request.user, target_id=target.pk, source_ids=[source.pk],
            reason=request.POST.get("reason", "") or _("Duplicate (merged from the desk)"),
        )  # fmt: skip
    except SerenoError as error:
        return _fail(request, error, reference)
    messages.success(
        request,
        _("%(source)s was merged into %(target)s.")
        % {"source": source_ref, "target": target.reference},
    )
    return redirect(_detail_url(target))


@require_POST
@desk_view(MODERATE)
def comment(request, reference: str):
    report = _report(reference)
    error = None
    try:
        services.comment_add(actor=request.user, report_id=report.pk,
                             body=request.POST.get("body", ""))  # fmt: skip
    except SerenoError as exc:
        error = exc.message
    if _htmx(request):
        comments = report.comments.model.objects.filter(report=report).select_related("author")
        context = {"report": report, "comments": list(comments),
                   "comment_error": error, "can_moderate": True}  # fmt: skip
        return render(request, "moderation/_comments.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    return redirect(_detail_url(report) + "#comments")


@require_POST
@desk_view(MODERATE)
def reply(request, reference: str):
    """Send a message to the person who reported by SMS or chat."""
    report = _report(reference)
    error = None
    try:
        conversation_staff.staff_reply_send(
            actor=request.user, report_id=report.pk, text=request.POST.get("text", ""),
            nonce=request.POST.get("nonce", ""),
        )  # fmt: skip
    except SerenoError as exc:
        error = exc.message
    if _htmx(request):
        context = {"report": report, "reply_error": error,
                   "reply_text": request.POST.get("text", "") if error else "",
                   **_thread_context(report, not report.merged_into_id)}  # fmt: skip
        return render(request, "moderation/_thread.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Your message is queued for the reporter."))
    return redirect(_detail_url(report) + "#thread")


@require_safe
@desk_view()
def media(request, media_id: int):
    """The cleaned derivative, for staff, whatever the report's status. Never the original."""
    item = Media.objects.filter(pk=media_id, state=Media.State.CLEAN).first()
    if item is None:
        raise Http404(_("File not found."))
    try:
        handle = open_cleaned(item).open("rb")
    except (NotFound, OSError) as error:
        raise Http404(_("File not found.")) from error
    response = FileResponse(handle, content_type=item.cleaned_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response
