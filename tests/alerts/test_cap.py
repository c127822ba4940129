"""CAP 1.2 documents validated with the OASIS schema (tests/alerts/data/CAP-v1.2.xsd)."""

import re
from pathlib import Path

import pytest
from django.test import override_settings
from lxml import etree

from sereno.alerts import services
from sereno.alerts.area import MAX_CAP_VERTICES, parse_polygon
from sereno.geo import zones
from sereno.geo.areas import import_areas
from tests.alerts.conftest import circle_zone, draft, publish
from tests.geo.helpers import collection, feature

pytestmark = pytest.mark.django_db

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "data" / "CAP-v1.2.xsd")))
NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def fetch(client, alert):
    response = client.get(f"/alerts/{alert.identifier}.xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/cap+xml")
    doc = etree.fromstring(response.content)
    SCHEMA.assertValid(doc)
    return doc


def text(doc, path):
    return doc.findtext(path, namespaces=NS)


def ring_ok(polygon: str) -> bool:
    pairs = polygon.split()
    return (
        len(pairs) >= 4
        and pairs[0] == pairs[-1]
        and all(re.fullmatch(r"-?\d+\.\d+,-?\d+\.\d+", p) for p in pairs)
    )


def wiggly_department():
    """A department boundary with thousands of corners (as real boundaries have)."""
    import math

    ring = [
        [-87.2 + 0.3 * math.cos(t) * (1 + 0.05 * math.sin(40 * t)),
         14.1 + 0.3 * math.sin(t) * (1 + 0.05 * math.sin(40 * t))]
        for t in (2 * math.pi * i / 3000 for i in range(3000))
    ]  # fmt: skip
    ring.append(ring[0])
    geometry = {"type": "Polygon", "coordinates": [ring]}
    return collection(feature({"ADM1_PCODE": "HN08", "ADM1_ES": "Francisco Morazán"}, geometry))


@override_settings(CAP_SENDER="alertas@sereno.example.org")
def test_polygon_and_circle_alert_is_valid_cap(client, moderator, moderator2, tmp_path):
    path = tmp_path / "dep.geojson"
    import json

    path.write_text(json.dumps(wiggly_department()))
    import_areas(path)
    area = zones.zone_for_area("HN08")
    alert = publish(draft(moderator, zones_=[area, circle_zone(3)]), moderator, moderator2)
    doc = fetch(client, alert)
    assert text(doc, "cap:identifier") == str(alert.identifier)
    assert text(doc, "cap:sender") == "alertas@sereno.example.org"
    assert OFFSET_TIME.match(text(doc, "cap:sent")) and text(doc, "cap:sent").endswith("-06:00")
    assert (text(doc, "cap:status"), text(doc, "cap:msgType"), text(doc, "cap:scope")) == (
        "Actual", "Alert", "Public",
    )  # fmt: skip
    assert doc.find("cap:references", NS) is None
    infos = doc.findall("cap:info", NS)
    assert [i.findtext("cap:language", namespaces=NS) for i in infos] == ["es-HN", "en-US"]
    es, en = infos
    assert es.findtext("cap:headline", namespaces=NS) == "Balacera en la colonia Kennedy"
    assert en.findtext("cap:headline", namespaces=NS) == "Shooting in colonia Kennedy"
    assert es.findtext("cap:category", namespaces=NS) == "Security"
    assert es.findtext("cap:web", namespaces=NS).endswith(f"/alerts/{alert.identifier}/")
    assert es.findtext("cap:expires", namespaces=NS).endswith("-06:00")
    polygons = es.findall("cap:area/cap:polygon", NS)
    assert len(polygons) == 1 and ring_ok(polygons[0].text)
    assert len(polygons[0].text.split()) <= MAX_CAP_VERTICES  # 3,000 corners simplified
    circles = [c.text for c in es.findall("cap:area/cap:circle", NS)]
    assert circles == ["14.07230,-87.19210 3"]
    assert es.findtext("cap:area/cap:areaDesc", namespaces=NS) == "Colonia Kennedy, Tegucigalpa"
    # The department also by its P-code; the circle has none.
    geocodes = [
        (g.findtext("cap:valueName", namespaces=NS), g.findtext("cap:value", namespaces=NS))
        for g in es.findall("cap:area/cap:geocode", NS)
    ]
    assert geocodes == [("PCODE", "HN08")]


def test_a_drawn_polygon_becomes_a_closed_cap_ring(client, moderator, moderator2):
    zone = zones.zone_for_polygon(parse_polygon("14.05,-87.22 14.05,-87.17 14.10,-87.17"))
    alert = publish(draft(moderator, zones_=[zone]), moderator, moderator2)
    doc = fetch(client, alert)
    polygon = doc.findtext("cap:info/cap:area/cap:polygon", namespaces=NS)
    assert ring_ok(polygon)
    assert polygon.split()[0] == "14.05000,-87.22000"


def test_update_and_cancellation_reference_the_earlier_messages(client, moderator, moderator2):
    original = publish(draft(moderator), moderator, moderator2)
    update = services.alert_follow_up(
        original=original, msg_type="Update", by=moderator, headline_es="Sigue la balacera"
    )
    publish(update, moderator, moderator2)
    cancel = services.alert_follow_up(original=update, msg_type="Cancel", by=moderator2)
    publish(cancel, moderator2, moderator)
    update.refresh_from_db()
    original.refresh_from_db()

    doc = fetch(client, update)
    assert text(doc, "cap:msgType") == "Update"
    sender = text(doc, "cap:sender")
    first = f"{sender},{original.identifier},{text(fetch(client, original), 'cap:sent')}"
    assert text(doc, "cap:references") == first

    doc = fetch(client, cancel)
    assert text(doc, "cap:msgType") == "Cancel"
    refs = text(doc, "cap:references").split()
    assert refs[0] == f"{sender},{update.identifier},{text(fetch(client, update), 'cap:sent')}"
    assert refs[1] == first


def test_spanish_only_alert_has_one_info(client, moderator, moderator2):
    alert = draft(
        moderator, event_en="", headline_en="", description_en="", instruction_en="",
        area_desc_en="", description_es="", instruction_es="",
    )  # fmt: skip
    doc = fetch(client, publish(alert, moderator, moderator2))
    infos = doc.findall("cap:info", NS)
    assert len(infos) == 1 and infos[0].findtext("cap:language", namespaces=NS) == "es-HN"
    assert infos[0].find("cap:description", NS) is None


def test_drafts_have_no_cap_document(client, moderator):
    alert = draft(moderator)
    assert client.get(f"/alerts/{alert.identifier}.xml").status_code == 404
