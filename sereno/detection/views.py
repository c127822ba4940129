"""The moderators' signal list (/staff/signals/): clusters worth a look, dismiss or draft."""

import functools
from urllib.parse import urlencode

import h3
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from sereno.accounts.selectors import staff_verified
from sereno.detection import conf, selectors, services
from sereno.detection.models import Detector, Signal
from sereno.reports.models import Category

ALERT_DRAFT_PATH = "/staff/alerts/new/"  # until the alerts app is installed


def moderator_view(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not staff_verified(request):
            back = (
                request.get_full_path() if request.method == "GET" else reverse("detection:signals")
            )
            return redirect_to_login(back, reverse(settings.LOGIN_URL))
        if not request.user.has_perm(services.MODERATE):
            raise PermissionDenied(_("You are not allowed to handle signals."))
        return view(request, *args, **kwargs)

    return wrapped


def _draft_path() -> str:
    try:
        return reverse("alerts:draft")
    except NoReverseMatch:
        return ALERT_DRAFT_PATH


def draft_alert_url(signal: Signal, category_name: str) -> str:
    """The alert form, prefilled with the cluster's circle (covering its cells), category and
    an event text."""
    radius = signal.radius_km
    if signal.detector == Detector.SPACETIME:
        radius += h3.average_hexagon_edge_length(conf.get("DETECT_H3_RESOLUTION"), unit="km")
    query = {
        "signal": signal.pk,
        "circle": f"{signal.centre_latitude:.5f},{signal.centre_longitude:.5f} {radius:.1f}",
        "category": signal.category,
        "event": category_name or _("Reports of violence"),
    }
    return f"{_draft_path()}?{urlencode(query)}"


@moderator_view
def signal_list(request):
    threshold = conf.get("DETECT_RI_THRESHOLD_DAYS")
    signals = list(selectors.signals_for_staff(min_recurrence_days=threshold)[:200])
    names = _category_names({s.category for s in signals if s.category})
    rows = [
        {"signal": s, "category": names.get(s.category, s.category),
         "draft_url": draft_alert_url(s, names.get(s.category, ""))}
        for s in signals
    ]  # fmt: skip
    context = {"rows": rows, "threshold": threshold, "last_run": selectors.last_run()}
    return render(request, "detection/signals.html", context)


def _category_names(slugs: set[str]) -> dict[str, str]:
    field = "name_es" if (get_language() or "es").startswith("es") else "name_en"
    return dict(Category.objects.filter(slug__in=slugs).values_list("slug", field))


@require_POST
@moderator_view
def signal_dismiss(request, pk: int):
    signal = get_object_or_404(Signal, pk=pk)
    services.signal_set_state(actor=request.user, signal=signal, state=Signal.State.DISMISSED)
    messages.success(request, _("Signal dismissed."))
    return redirect("detection:signals")
