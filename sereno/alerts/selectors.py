"""Every read of alerts: the staff lists and what the public may see."""

from django.db.models import QuerySet
from django.utils import timezone

from sereno.alerts.models import Alert
from sereno.lib.errors import NotFound

PUBLIC_STATES = (Alert.State.PUBLISHED, Alert.State.SUPERSEDED)
FEED_LIMIT = 50  # keeps the Atom feed far below the 100 KB aggregators ask for
BANNER_LIMIT = 3


def staff_alerts(state: str | None = None) -> QuerySet[Alert]:
    qs = Alert.objects.select_related("created_by", "approved_by").order_by("-created_at")
    return qs.filter(state=state) if state else qs


def staff_alert(identifier) -> Alert:
    alert = (
        Alert.objects.select_related("created_by", "approved_by", "references")
        .prefetch_related("zones")
        .filter(identifier=identifier)
        .first()
    )
    if alert is None:
        raise NotFound("alert not found")
    return alert


def current_alerts(now=None) -> QuerySet[Alert]:
    """Published, not expired, not replaced by an update or cancellation."""
    now = now or timezone.now()
    return (
        Alert.objects.filter(state=Alert.State.PUBLISHED, expires__gt=now)
        .select_related("references")
        .order_by("-published_at")
    )


def banner_alerts(now=None) -> list[Alert]:
    """What the public map announces: current alerts in effect (a cancellation says its piece
    in the feed and on its page, not in a banner)."""
    now = now or timezone.now()
    qs = current_alerts(now).filter(effective__lte=now).exclude(msg_type=Alert.MsgType.CANCEL)
    return list(qs[:BANNER_LIMIT])


def public_alerts() -> QuerySet[Alert]:
    """Every alert ever published (the public list and its history)."""
    return Alert.objects.filter(state__in=PUBLIC_STATES).order_by("-published_at")


def public_alert(identifier) -> Alert:
    alert = (
        Alert.objects.filter(identifier=identifier, state__in=PUBLIC_STATES)
        .select_related("references")
        .prefetch_related("zones")
        .first()
    )
    if alert is None:
        raise NotFound("alert not found")
    return alert


def reference_chain(alert: Alert, limit: int = 20) -> list[Alert]:
    """The alerts this one replaces, newest first (CAP <references> lists them all)."""
    chain, current = [], alert.references
    while current is not None and len(chain) < limit:
        chain.append(current)
        current = current.references
    return chain


def latest_followup(alert: Alert) -> Alert | None:
    """The published update or cancellation that replaced this alert, if any."""
    return (
        Alert.objects.filter(references=alert, state__in=PUBLIC_STATES)
        .order_by("-published_at")
        .first()
    )
