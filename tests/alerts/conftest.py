from datetime import timedelta

import pytest
from django.utils import timezone

from sereno.alerts import services
from sereno.geo import zones

TEGUS = (14.0723, -87.1921)


@pytest.fixture(autouse=True)
def _fresh_area_index():
    from sereno.geo import areas

    areas.invalidate()
    yield
    areas.invalidate()


def alert_fields(**overrides) -> dict:
    now = timezone.now()
    values = {
        "event_es": "Balacera",
        "event_en": "Shooting",
        "headline_es": "Balacera en la colonia Kennedy",
        "headline_en": "Shooting in colonia Kennedy",
        "description_es": "Se reportan disparos cerca del mercado.",
        "description_en": "Shots reported near the market.",
        "instruction_es": "Evite la zona y quédese en casa.",
        "instruction_en": "Avoid the area and stay at home.",
        "area_desc_es": "Colonia Kennedy, Tegucigalpa",
        "area_desc_en": "Colonia Kennedy, Tegucigalpa",
        "urgency": "Immediate",
        "severity": "Severe",
        "certainty": "Likely",
        "effective": now,
        "expires": now + timedelta(hours=6),
    }
    values.update(overrides)
    return values


def circle_zone(radius=2.0):
    return zones.zone_for_circle(*TEGUS, radius)


def draft(by, *, zones_=None, **overrides):
    return services.alert_draft(by=by, zones=zones_ or [circle_zone()], **alert_fields(**overrides))


def publish(alert, drafter, approver):
    services.alert_submit(alert=alert, by=drafter)
    return services.alert_approve(alert=alert, by=approver)


@pytest.fixture
def published(moderator, moderator2):
    return publish(draft(moderator), moderator, moderator2)
