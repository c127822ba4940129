import pytest
from django.urls import reverse

from sereno.alerts.models import Alert
from sereno.geo.models import Zone
from sereno.reports.models import Category
from tests.alerts.conftest import alert_fields, draft
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    values = alert_fields()
    data = {k: v for k, v in values.items() if k not in ("effective", "expires")}
    data.update(
        status="Actual",
        category="Security",
        effective=values["effective"].strftime("%Y-%m-%dT%H:%M"),
        expires=values["expires"].strftime("%Y-%m-%dT%H:%M"),
        circle="14.0723,-87.1921 2",
    )
    data.update(overrides)
    return data


def test_a_moderator_drafts_with_a_circle_and_a_place_without_javascript(client, moderator):
    client = staff_client(client, moderator)
    page = client.get(reverse("alerts:draft"))
    assert page.status_code == 200 and 'name="circle"' in page.text
    response = client.post(reverse("alerts:draft"), form_data(places="Tegucigalpa"))
    alert = Alert.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(
        f"/staff/alerts/{alert.identifier}/"
    )
    kinds = sorted(z.kind for z in alert.zones.all())
    assert kinds == [Zone.Kind.CIRCLE, Zone.Kind.PLACE]
    assert alert.created_by == moderator and alert.state == "draft"


def test_an_area_drawn_with_the_zone_picker_becomes_the_alert_zone(client, moderator):
    client = staff_client(client, moderator)
    page = client.get(reverse("alerts:draft"))
    assert 'name="drawn_lat"' in page.text and "geo/zone-picker.js" in page.text
    polygon = (
        '{"type": "Polygon", "coordinates": [[[-87.25, 14.03], [-87.15, 14.03], '
        "[-87.15, 14.12], [-87.25, 14.12], [-87.25, 14.03]]]}"
    )
    response = client.post(reverse("alerts:draft"), form_data(circle="", drawn_polygon=polygon))
    assert response.status_code == 302
    assert [z.kind for z in Alert.objects.get().zones.all()] == [Zone.Kind.POLYGON]
    # Without JavaScript the picker is a centre and a radius.
    data = form_data(circle="", drawn_lat="15.5042", drawn_lon="-88.025", drawn_radius="4")
    client.post(reverse("alerts:draft"), data)
    circle = Alert.objects.order_by("-pk").first().zones.get()
    assert (circle.kind, circle.radius_km) == (Zone.Kind.CIRCLE, 4.0)


def test_bad_area_and_missing_spanish_go_back_to_the_form(client, moderator):
    client = staff_client(client, moderator)
    response = client.post(reverse("alerts:draft"), form_data(circle="somewhere"))
    assert response.status_code == 422 and "latitud,longitud radio_km" in response.text
    response = client.post(reverse("alerts:draft"), form_data(circle="", headline_es=""))
    assert response.status_code == 422
    response = client.post(reverse("alerts:draft"), form_data(circle=""))
    assert response.status_code == 422 and "al menos una zona" in response.text
    assert not Alert.objects.exists() and not Zone.objects.exists()


def test_the_area_description_defaults_to_the_zone_names(client, moderator):
    client = staff_client(client, moderator)
    client.post(
        reverse("alerts:draft"),
        form_data(area_desc_es="", polygon="14.05,-87.22 14.05,-87.17 14.10,-87.17"),
    )
    alert = Alert.objects.get()
    assert alert.area_desc_es == ", ".join(z.label for z in alert.zones.all())


def test_the_form_is_prefilled_from_a_detection_link(client, moderator):
    Category.objects.get_or_create(
        slug="balacera-test", defaults={"name_es": "Balacera", "name_en": "Shooting"}
    )
    url = reverse("alerts:draft") + "?signal=42&circle=14.07,-87.19+2.5&category=balacera-test"
    page = staff_client(client, moderator).get(url)
    assert page.status_code == 200
    assert 'value="42"' in page.text and "14.07,-87.19 2.5</textarea>" in page.text
    assert 'value="Balacera"' in page.text and 'value="Shooting"' in page.text
    page = client.get(reverse("alerts:draft") + "?event=Extorsi%C3%B3n")
    assert 'value="Extorsión"' in page.text


def test_submit_then_another_moderator_approves_through_the_pages(client, moderator, moderator2):
    alert = draft(moderator)
    c = staff_client(client, moderator)
    c.post(reverse("alerts:submit", args=[alert.identifier]))
    detail = c.get(reverse("alerts:detail", args=[alert.identifier]))
    assert "otra persona debe aprobarla" in detail.text and 'id="do-approve"' not in detail.text
    c.post(reverse("alerts:approve", args=[alert.identifier]))  # refused: 403
    assert Alert.objects.get(pk=alert.pk).state == "submitted"

    c = staff_client(client, moderator2)
    assert 'id="do-approve"' in c.get(reverse("alerts:detail", args=[alert.identifier])).text
    response = c.post(reverse("alerts:approve", args=[alert.identifier]), follow=True)
    assert "Aprobada y publicada." in response.text
    alert.refresh_from_db()
    assert alert.state == "published" and alert.approved_by == moderator2
    assert 'id="fanout-progress"' in response.text
    assert 'id="do-update"' in response.text and 'id="do-cancel"' in response.text


def test_the_drafter_posting_approve_gets_403(client, moderator):
    alert = draft(moderator)
    c = staff_client(client, moderator)
    c.post(reverse("alerts:submit", args=[alert.identifier]))
    assert c.post(reverse("alerts:approve", args=[alert.identifier])).status_code == 403


def test_reject_with_reason_and_edit(client, moderator, moderator2):
    alert = draft(moderator)
    staff_client(client, moderator).post(reverse("alerts:submit", args=[alert.identifier]))
    c = staff_client(client, moderator2)
    c.post(reverse("alerts:reject", args=[alert.identifier]), {"reason": ""})
    assert Alert.objects.get(pk=alert.pk).state == "submitted"
    c.post(reverse("alerts:reject", args=[alert.identifier]), {"reason": "Sin confirmar"})
    assert Alert.objects.get(pk=alert.pk).state == "rejected"
    c = staff_client(client, moderator)
    page = c.get(reverse("alerts:edit", args=[alert.identifier]))
    assert page.status_code == 200 and 'name="keep"' in page.text
    zone_id = alert.zones.get().pk
    response = c.post(
        reverse("alerts:edit", args=[alert.identifier]),
        form_data(circle="", keep=[zone_id], headline_es="Balacera confirmada"),
    )
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.state == "draft" and alert.headline_es == "Balacera confirmada"
    assert [z.pk for z in alert.zones.all()] == [zone_id]


def test_a_cancellation_is_drafted_from_the_published_alert(client, published, moderator2):
    c = staff_client(client, moderator2)
    url = reverse("alerts:follow_up", args=[published.identifier]) + "?type=Cancel"
    page = c.get(url)
    assert page.status_code == 200 and 'value="Past"' in page.text
    keep = [z.pk for z in published.zones.all()]
    data = form_data(circle="", keep=keep, urgency="Past", headline_es="Se cancela la alerta")
    response = c.post(url, data)
    assert response.status_code == 302
    cancel = Alert.objects.get(msg_type="Cancel")
    assert cancel.references == published and cancel.created_by == moderator2


def test_the_progress_fragment_renders_alone(client, published, moderator):
    response = staff_client(client, moderator).get(
        reverse("alerts:progress", args=[published.identifier]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and 'id="fanout-progress"' in response.text
    assert "<html" not in response.text


@pytest.mark.parametrize("name", ["list", "draft"])
def test_anonymous_is_sent_to_sign_in(client, name):
    response = client.get(reverse(f"alerts:{name}"))
    assert response.status_code == 302 and "/accounts/" in response["Location"]


@pytest.mark.parametrize("who", ["outsider", "analyst"])
def test_staff_without_alert_permissions_are_refused(client, request, who, moderator):
    user = request.getfixturevalue(who)
    alert = draft(moderator)
    services_urls = [
        ("get", reverse("alerts:list")),
        ("get", reverse("alerts:draft")),
        ("get", reverse("alerts:detail", args=[alert.identifier])),
        ("get", reverse("alerts:progress", args=[alert.identifier])),
        ("post", reverse("alerts:submit", args=[alert.identifier])),
        ("post", reverse("alerts:approve", args=[alert.identifier])),
        ("post", reverse("alerts:reject", args=[alert.identifier])),
    ]
    c = staff_client(client, user)
    for method, url in services_urls:
        assert getattr(c, method)(url).status_code == 403, url
    assert c.post(reverse("alerts:draft"), form_data()).status_code == 403
    assert Alert.objects.count() == 1 and Alert.objects.get().state == "draft"


def test_anonymous_posts_change_nothing(client, moderator):
    alert = draft(moderator)
    for name in ("submit", "approve", "reject"):
        response = client.post(reverse(f"alerts:{name}", args=[alert.identifier]))
        assert response.status_code == 302
    assert Alert.objects.get().state == "draft"


def test_approving_starts_the_fan_out_and_the_page_shows_its_progress(
    client, moderator, moderator2, django_capture_on_commit_callbacks
):
    from sereno.messaging.models import Channel
    from tests.alerts.fanout_support import SAN_PEDRO, subscriber

    sms = Channel.objects.create(kind="kannel", name="SMS", address="2222", enabled=True)
    for i in range(3):
        subscriber(sms, i)
    subscriber(sms, 9, at=SAN_PEDRO)
    alert = draft(moderator)
    staff_client(client, moderator).post(reverse("alerts:submit", args=[alert.identifier]))
    c = staff_client(client, moderator2)
    with django_capture_on_commit_callbacks(execute=True):
        c.post(reverse("alerts:approve", args=[alert.identifier]))
    fragment = c.get(reverse("alerts:progress", args=[alert.identifier]), HTTP_HX_REQUEST="true")
    assert '<dd id="n-recipients">3</dd>' in fragment.text
    assert '<dd id="n-queued">3</dd>' in fragment.text
    assert "hx-trigger" not in fragment.text  # done: the polling stops
