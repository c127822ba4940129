"""Published alerts and subscribers for the fan-out tests (no approval flow: that is tested
with the alerts services)."""

from datetime import timedelta

from django.utils import timezone

from sereno.alerts.models import Alert
from sereno.geo import zones
from sereno.messaging.contacts import contact_for
from sereno.subscriptions.models import Subscription

TEGUS = (14.0723, -87.1921)
COMAYAGUELA = (14.0833, -87.2167)
SAN_PEDRO = (15.5042, -88.0250)


def published_alert(author, *, zone=None, **fields) -> Alert:
    now = timezone.now()
    values = {
        "event_es": "Balacera",
        "urgency": Alert.Urgency.IMMEDIATE,
        "severity": Alert.Severity.SEVERE,
        "certainty": Alert.Certainty.OBSERVED,
        "headline_es": "Balacera en el centro de Tegucigalpa",
        "headline_en": "Shooting in central Tegucigalpa",
        "instruction_es": "Evite la zona y resguárdese.",
        "instruction_en": "Avoid the area and shelter.",
        "area_desc_es": "Centro de Tegucigalpa",
        "area_desc_en": "Central Tegucigalpa",
        "effective": now,
        "expires": now + timedelta(hours=6),
        "created_by": author,
        "state": Alert.State.PUBLISHED,
        "published_at": now,
        **fields,
    }
    alert = Alert.objects.create(**values)
    alert.zones.add(zone or zones.zone_for_circle(*TEGUS, 3))
    return alert


def subscriber(channel, number: int, *, at=TEGUS, radius=1.0, language="es", status="active"):
    contact = contact_for(scheme="tel", raw=f"+5049{number:07d}", channel=channel)
    return Subscription.objects.create(
        contact=contact,
        channel=channel,
        zone=zones.zone_for_circle(*at, radius),
        language=language,
        status=status,
        source=Subscription.Source.MESSAGE,
    )
