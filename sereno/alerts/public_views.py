"""Public alert pages, the CAP 1.2 document of each published alert and the Atom feed of
current ones. Server-rendered; the map uses the configured tiles like the crowdmap."""

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from sereno.alerts import cap, selectors
from sereno.alerts.area import display_geometry
from sereno.alerts.models import Alert
from sereno.alerts.texts import alert_texts
from sereno.lib.errors import NotFound

FEED_TYPE = "application/atom+xml; charset=utf-8"
CAP_TYPE = "application/cap+xml; charset=utf-8"


def _absolute(request, path: str) -> str:
    return (
        f"{settings.PUBLIC_URL}{path}" if settings.PUBLIC_URL else request.build_absolute_uri(path)
    )


def _published(identifier) -> Alert:
    try:
        return selectors.public_alert(identifier)
    except NotFound as error:
        raise Http404 from error


@require_safe
def alert_list(request):
    page = Paginator(selectors.public_alerts(), 20).get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [(a, alert_texts(a), _is_current(a, now)) for a in page.object_list]
    return render(request, "alerts/public/list.html", {"page": page, "rows": rows})


def _is_current(alert: Alert, now) -> bool:
    return alert.state == Alert.State.PUBLISHED and alert.expires > now


@require_safe
def alert_page(request, identifier):
    alert = _published(identifier)
    zones = list(alert.zones.all())
    area = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": z.label}, "geometry": display_geometry(z)}
        for z in zones
    ]}  # fmt: skip
    context = {
        "alert": alert,
        "texts": alert_texts(alert),
        "zones": zones,
        "area": area,
        "current": _is_current(alert, timezone.now()),
        "replaced_by": selectors.latest_followup(alert),
        "references": alert.references if alert.references_id else None,
        "tile_url": settings.TILE_URL,
    }
    return render(request, "alerts/public/page.html", context)


@require_safe
def alert_cap(request, identifier):
    alert = _published(identifier)
    page_url = _absolute(request, reverse("public_alerts:page", args=[alert.identifier]))
    return HttpResponse(cap.cap_document(alert, page_url=page_url), content_type=CAP_TYPE)


@require_safe
def alert_feed(request):
    def urls(alert):
        return (
            _absolute(request, reverse("public_alerts:page", args=[alert.identifier])),
            _absolute(request, reverse("public_alerts:cap", args=[alert.identifier])),
        )

    body = cap.atom_feed(
        feed_url=_absolute(request, reverse("public_alerts:feed")),
        site_url=_absolute(request, reverse("public_alerts:list")),
        language=(get_language() or "es")[:2],
        urls=urls,
    )
    return HttpResponse(body, content_type=FEED_TYPE)
