from datetime import timedelta

import pytest
from django.utils import timezone
from lxml import etree

from sereno.alerts import services
from sereno.alerts.models import Alert
from tests.alerts.conftest import draft, publish

pytestmark = pytest.mark.django_db

ATOM = {"a": "http://www.w3.org/2005/Atom"}


def feed(client):
    response = client.get("/alerts/feed.atom")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    return response, etree.fromstring(response.content)


def test_feed_lists_current_alerts_linking_to_cap_and_page(client, published, moderator):
    draft(moderator, headline_es="Borrador que nadie ve")
    response, doc = feed(client)
    assert doc.tag == "{http://www.w3.org/2005/Atom}feed"
    for required in ("a:id", "a:title", "a:updated", "a:author/a:name"):
        assert doc.findtext(required, namespaces=ATOM), required
    assert doc.find("a:link[@rel='self']", ATOM).get("href").endswith("/alerts/feed.atom")
    entries = doc.findall("a:entry", ATOM)
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext("a:id", namespaces=ATOM) == f"urn:uuid:{published.identifier}"
    assert entry.findtext("a:title", namespaces=ATOM) == published.headline_es
    assert entry.findtext("a:updated", namespaces=ATOM).endswith("-06:00")
    cap = entry.find("a:link[@type='application/cap+xml']", ATOM)
    assert cap.get("rel") == "alternate"
    assert cap.get("href") == f"http://testserver/alerts/{published.identifier}.xml"
    page = entry.find("a:link[@type='text/html']", ATOM)
    assert page.get("href") == f"http://testserver/alerts/{published.identifier}/"
    assert client.get(cap.get("href")).status_code == 200
    assert client.get(page.get("href")).status_code == 200
    assert "Borrador" not in response.text


def test_feed_leaves_out_expired_and_superseded_and_stays_small(client, moderator, moderator2):
    now = timezone.now()
    old = publish(draft(moderator), moderator, moderator2)
    Alert.objects.filter(pk=old.pk).update(
        expires=now - timedelta(minutes=1), effective=now - timedelta(hours=2)
    )
    original = publish(draft(moderator, headline_es="Original"), moderator, moderator2)
    update = services.alert_follow_up(
        original=original, msg_type="Update", by=moderator2, headline_es="Actualización"
    )
    publish(update, moderator2, moderator)
    _, doc = feed(client)
    titles = [e.findtext("a:title", namespaces=ATOM) for e in doc.findall("a:entry", ATOM)]
    assert titles == ["Actualización"]
    for i in range(60):
        publish(draft(moderator, headline_es=f"Alerta {i} " + "x" * 140), moderator, moderator2)
    response, doc = feed(client)
    assert len(doc.findall("a:entry", ATOM)) == 50
    assert len(response.content) < 100_000


def test_feed_in_english_uses_english_headlines(client, published):
    client.cookies["django_language"] = "en"
    _, doc = feed(client)
    assert doc.findtext("a:entry/a:title", namespaces=ATOM) == "Shooting in colonia Kennedy"


def test_alert_page_in_both_languages_without_third_party_requests(client, published, settings):
    url = f"/alerts/{published.identifier}/"
    page = client.get(url)
    assert page.status_code == 200
    assert "Balacera en la colonia Kennedy" in page.text and "Evite la zona" in page.text
    assert 'id="alert-area"' in page.text and "/static/vendor/leaflet/leaflet.js" in page.text
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    assert f'data-tiles="{settings.TILE_URL}"' in page.text
    assert "Qué hacer" in page.text  # Spanish headings
    client.cookies["django_language"] = "en"
    page = client.get(url)
    assert "Shooting in colonia Kennedy" in page.text and "What to do" in page.text


def test_english_falls_back_to_spanish_when_missing(client, moderator, moderator2):
    alert = draft(moderator, headline_en="", instruction_en="")
    publish(alert, moderator, moderator2)
    client.cookies["django_language"] = "en"
    page = client.get(f"/alerts/{alert.identifier}/")
    assert "Balacera en la colonia Kennedy" in page.text and "Evite la zona" in page.text
    assert "Shots reported near the market." in page.text


def test_drafts_are_not_public_and_a_replaced_alert_points_to_the_newer(
    client, published, moderator, moderator2
):
    hidden = draft(moderator)
    assert client.get(f"/alerts/{hidden.identifier}/").status_code == 404
    cancel = services.alert_follow_up(
        original=published, msg_type="Cancel", by=moderator2, headline_es="Alerta cancelada"
    )
    publish(cancel, moderator2, moderator)
    page = client.get(f"/alerts/{published.identifier}/")
    assert f"/alerts/{cancel.identifier}/" in page.text and "reemplazada" in page.text
    listing = client.get("/alerts/")
    assert "Alerta cancelada" in listing.text and "Balacera en la colonia Kennedy" in listing.text
    assert hidden.headline_es not in listing.text.replace(published.headline_es, "")


def test_the_public_map_shows_a_banner_for_current_alerts(client, published, moderator, moderator2):
    page = client.get("/")
    assert 'id="alert-banner"' in page.text
    assert f'href="/alerts/{published.identifier}/"' in page.text
    assert "Balacera en la colonia Kennedy" in page.text
    cancel = services.alert_follow_up(original=published, msg_type="Cancel", by=moderator)
    publish(cancel, moderator, moderator2)
    assert 'id="alert-banner"' not in client.get("/").text


def test_no_banner_without_alerts_or_once_expired(client, published):
    Alert.objects.update(
        effective=timezone.now() - timedelta(hours=2), expires=timezone.now() - timedelta(hours=1)
    )
    assert 'id="alert-banner"' not in client.get("/").text


def test_a_department_boundary_is_simplified_on_the_page(client, moderator, moderator2, tmp_path):
    import json

    from sereno.geo import zones
    from sereno.geo.areas import import_areas
    from tests.alerts.test_cap import wiggly_department

    path = tmp_path / "dep.geojson"
    path.write_text(json.dumps(wiggly_department()))
    import_areas(path)
    alert = publish(draft(moderator, zones_=[zones.zone_for_area("HN08")]), moderator, moderator2)
    page = client.get(f"/alerts/{alert.identifier}/")
    start = page.text.index('id="alert-area"')
    area = json.loads(
        page.text[page.text.index(">", start) + 1 : page.text.index("</script>", start)]
    )
    ring = area["features"][0]["geometry"]["coordinates"][0]
    assert 4 <= len(ring) < 1_000  # of 3,001 corners
