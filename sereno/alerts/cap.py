"""CAP 1.2 documents and the Atom feed of current alerts, built with lxml.

Times carry an explicit offset in the configured time zone (`-06:00` in Honduras): CAP's
schema refuses `Z`. The English <info> is there when the alert has English text (fields left
empty in English fall back to Spanish); the Spanish one always is.
"""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from lxml import etree

from sereno.alerts import selectors
from sereno.alerts.area import cap_shapes
from sereno.alerts.models import Alert
from sereno.alerts.texts import alert_texts, has_english
from sereno.geo.models import Zone

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
CAP_TYPE = "application/cap+xml"
# <geocode> valueName of an administrative area's code: an OCHA P-code ("HN08", "HN0801").
CAP_GEOCODE_NAME = "PCODE"
LANGUAGES = (("es", "es-HN"), ("en", "en-US"))


def cap_time(value: datetime) -> str:
    """2026-11-29T06:18:00-06:00 (seconds, explicit offset, never Z)."""
    local = timezone.localtime(value).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "+00:00" if text.endswith("Z") else text


def cap_reference(alert: Alert) -> str:
    return f"{settings.CAP_SENDER},{alert.identifier},{cap_time(alert.published_at)}"


def cap_document(alert: Alert, *, page_url: str) -> bytes:
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _add(root, "identifier", str(alert.identifier))
    _add(root, "sender", settings.CAP_SENDER)
    _add(root, "sent", cap_time(alert.published_at or timezone.now()))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "scope", "Public")
    chain = [a for a in selectors.reference_chain(alert) if a.published_at]
    if chain:
        _add(root, "references", " ".join(cap_reference(a) for a in chain))
    zones = list(alert.zones.all())
    for language, tag in LANGUAGES:
        if language == "en" and not has_english(alert):
            continue
        _info(root, alert, zones, language, tag, page_url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _info(root, alert: Alert, zones, language: str, tag: str, page_url: str) -> None:
    texts = alert_texts(alert, language)
    info = _add(root, "info")
    _add(info, "language", tag)
    _add(info, "category", alert.category)
    _add(info, "event", texts["event"])
    _add(info, "urgency", alert.urgency)
    _add(info, "severity", alert.severity)
    _add(info, "certainty", alert.certainty)
    _add(info, "effective", cap_time(alert.effective))
    _add(info, "expires", cap_time(alert.expires))
    _add(info, "senderName", settings.SITE_NAME)
    _add(info, "headline", texts["headline"])
    if texts["description"]:
        _add(info, "description", texts["description"])
    if texts["instruction"]:
        _add(info, "instruction", texts["instruction"])
    _add(info, "web", page_url)
    area = _add(info, "area")
    _add(area, "areaDesc", texts["area_desc"])
    polygons, circles = [], []
    for zone in zones:
        more_polygons, more_circles = cap_shapes(zone)
        polygons += more_polygons
        circles += more_circles
    for text in polygons:
        _add(area, "polygon", text)
    for text in circles:
        _add(area, "circle", text)
    # Administrative areas also by their OCHA P-code (COD-AB, as geo imports them), so that a
    # system holding the same boundaries matches the area without reading its polygon.
    codes = [z.area_code for z in zones if z.kind == Zone.Kind.AREA and z.area_code]
    for code in dict.fromkeys(codes):
        geocode = _add(area, "geocode")
        _add(geocode, "valueName", CAP_GEOCODE_NAME)
        _add(geocode, "value", code)


def atom_feed(*, feed_url: str, site_url: str, language: str, urls) -> bytes:
    """Current alerts, newest first, at most FEED_LIMIT. `urls(alert)` gives (page, cap)."""
    alerts = list(selectors.current_alerts()[: selectors.FEED_LIMIT])
    root = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    root.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    _atom(root, "id", feed_url)
    _atom(root, "title", f"{settings.SITE_NAME}: alertas / alerts")
    newest = max((a.published_at for a in alerts), default=None)
    _atom(root, "updated", cap_time(newest or timezone.now()))
    _link(root, "self", feed_url, "application/atom+xml")
    _link(root, "alternate", site_url, "text/html")
    author = _atom(root, "author")
    _atom(author, "name", settings.SITE_NAME)
    for alert in alerts:
        page, cap = urls(alert)
        texts = alert_texts(alert, language)
        entry = _atom(root, "entry")
        _atom(entry, "id", f"urn:uuid:{alert.identifier}")
        _atom(entry, "title", texts["headline"])
        _atom(entry, "updated", cap_time(alert.published_at))
        _atom(entry, "published", cap_time(alert.published_at))
        _link(entry, "alternate", cap, CAP_TYPE)
        _link(entry, "alternate", page, "text/html")
        summary = f"{texts['event']} · {texts['area_desc']}. {texts['description']}".strip()
        _atom(entry, "summary", summary[:500])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _add(parent, name: str, text: str | None = None):
    element = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _atom(parent, name: str, text: str | None = None):
    element = etree.SubElement(parent, f"{{{ATOM_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _link(parent, rel: str, href: str, media_type: str) -> None:
    link = etree.SubElement(parent, f"{{{ATOM_NS}}}link")
    link.set("rel", rel)
    link.set("href", href)
    link.set("type", media_type)
