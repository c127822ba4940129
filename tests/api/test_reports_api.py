import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from sereno.accounts.services import token_create
from sereno.reports.models import Report
from tests.conftest import staff_client
from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports"


def body(**overrides):
    values = {
        "title": "Extorsión a transportistas",
        "description": "Cobran impuesto de guerra a los buses de la ruta 5.",
        "categories": ["extorsion"],
        "occurred_at": (timezone.now() - timedelta(hours=3)).isoformat(),
        "latitude": 14.0818,
        "longitude": -87.2068,
        "location_precision": "exact",
    }
    values.update(overrides)
    return values


def post(client, payload, lang="es", **headers):
    return client.post(
        URL, data=json.dumps(payload) if not isinstance(payload, (str, bytes)) else payload,
        content_type="application/json", headers={"Accept-Language": lang, **headers},
    )  # fmt: skip


def test_health_and_openapi(client):
    assert client.get("/api/v1/health").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/reports" in spec["paths"]
    assert "/api/v1/staff/reports/{reference}/transition" in spec["paths"]


def test_categories_in_request_language(client):
    es = client.get("/api/v1/categories", headers={"Accept-Language": "es"}).json()
    en = client.get("/api/v1/categories", headers={"Accept-Language": "en"}).json()
    assert {"extorsion", "homicidio", "violencia-domestica"} <= {c["slug"] for c in es}
    assert next(c for c in es if c["slug"] == "homicidio")["name"] == "Homicidio"
    assert next(c for c in en if c["slug"] == "homicidio")["name"] == "Homicide"
    assert next(c for c in es if c["slug"] == "homicidio")["parent"] == "violencia-letal"


def test_submit_anonymously_returns_reference(client):
    response = post(client, body())
    assert response.status_code == 201, response.content
    data = response.json()
    report = Report.objects.get(reference=data["reference"])
    assert report.status == "received" and report.channel == "api"
    assert data["reference"] in data["message"]


def test_idempotency_key_makes_retries_safe(client):
    first = post(client, body(), **{"Idempotency-Key": "device-1-report-7"})
    second = post(client, body(), **{"Idempotency-Key": "device-1-report-7"})
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["reference"] == second.json()["reference"]
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ('{"title": "x",', 422, None),
        (body(latitude="NaN"), 422, "latitude"),
        ('{"title":"t","description":"d","occurred_at":"2024-01-01T00:00:00Z",'
         '"latitude":NaN,"longitude":1}', 422, "latitude"),
        (body(latitude=91), 422, "latitude"),
        (body(occurred_at=(timezone.now() + timedelta(days=3)).isoformat()), 422, "occurred_at"),
        (body(categories=["ovnis"]), 422, "categories"),
        (body(title=""), 422, "title"),
        (body(title="x" * 201), 422, "title"),
        (body(surprise=1), 422, "surprise"),
        ([1, 2], 422, None),
    ],
)  # fmt: skip
def test_bad_input_gets_clear_error_and_writes_nothing(client, payload, status, field):
    response = post(client, payload)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"]
    if field:
        assert error.get("field") == field
    assert Report.objects.count() == 0


def test_errors_in_request_language(client):
    es = post(client, body(latitude=91), lang="es").json()["error"]["message"]
    en = post(client, body(latitude=91), lang="en").json()["error"]["message"]
    assert en == "Latitude must be between -90 and 90."
    assert es == "La latitud debe estar entre -90 y 90."
    missing = post(client, {"title": "t"}, lang="es").json()["error"]["message"]
    assert missing == "Este campo es obligatorio."


def test_wrong_content_type_is_415(client):
    response = client.post(URL, data="title=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413_before_reading(client):
    response = post(client, body(description="x" * 70_000))
    assert response.status_code == 413
    huge = client.generic(
        "POST", URL, b"{}", content_type="application/json", CONTENT_LENGTH=str(10**9)
    )
    assert huge.status_code == 413
    assert Report.objects.count() == 0


def test_intake_is_rate_limited_without_storing_the_address(client, settings):
    settings.RATE_REPORTS = "2/3600"
    assert post(client, body()).status_code == 201
    assert post(client, body()).status_code == 201
    limited = post(client, body())
    assert limited.status_code == 429 and limited["Retry-After"]
    assert limited.json()["error"]["code"] == "rate_limited"


def test_public_list_shows_published_only_without_exact_location(client, moderator):
    hidden = make_report(title="Sin verificar")
    shown = publish(make_report(title="Publicado"), moderator)
    data = client.get(URL).json()
    assert [r["reference"] for r in data["results"]] == [shown.reference]
    text = json.dumps(data)
    assert hidden.reference not in text
    assert str(shown.latitude) not in text and "contact" not in text
    item = data["results"][0]
    assert item["location"]["latitude"] == shown.public_latitude
    assert item["department"] == "HN08" and item["department_name"] == "Francisco Morazán"


def test_public_detail_404_until_published(client, moderator):
    report = make_report()
    assert client.get(f"{URL}/{report.reference}").status_code == 404
    publish(report, moderator)
    data = client.get(f"{URL}/{report.reference}").json()
    assert data["reference"] == report.reference
    assert data["occurred"] == timezone.localtime(report.occurred_at).date().isoformat()


def test_public_date_at_month_precision(client, moderator):
    report = publish(make_report(occurred_precision="month"), moderator)
    data = client.get(f"{URL}/{report.reference}").json()
    assert len(data["occurred"]) == 7  # YYYY-MM


def test_sensitive_report_hides_typed_place(client, moderator):
    report = publish(
        make_report(categories=["violencia-domestica"], place_name="Casa azul junto a la pulpería"),
        moderator,
    )
    data = client.get(f"{URL}/{report.reference}").json()
    assert "Casa azul" not in json.dumps(data)
    assert data["location"]["resolution"] == 7


def test_filters_and_page_cap(client, moderator):
    for _ in range(3):
        publish(make_report(), moderator)
    publish(make_report(categories=["homicidio"], latitude=15.5042, longitude=-88.025), moderator)
    assert client.get(URL, {"category": "violencia-letal"}).json()["count"] == 1
    assert client.get(URL, {"department": "HN06"}).json()["count"] == 1
    assert client.get(URL, {"bbox": "-88.2,15.3,-87.9,15.7"}).json()["count"] == 1
    today = timezone.localdate()
    assert client.get(URL, {"date_from": str(today + timedelta(days=1))}).json()["count"] == 0
    page = client.get(URL, {"page_size": 1000}).json()
    assert page["page_size"] == 50 and page["count"] == 4
    assert client.get(URL, {"bbox": "a,b"}).status_code == 422
    assert client.get(URL, {"category": "nada"}).status_code == 422


# --- staff API --------------------------------------------------------------------------------

STAFF = "/api/v1/staff/reports"


def test_staff_api_denies_anonymous_and_outsiders(client, outsider, analyst):
    report = make_report()
    assert client.get(STAFF).status_code == 401
    assert (
        client.post(
            f"{STAFF}/{report.reference}/transition",
            {"status": "verified"},
            content_type="application/json",
        ).status_code
        == 401
    )
    staff_client(client, outsider)
    assert client.get(STAFF).status_code == 403
    assert client.get(f"{STAFF}/{report.reference}").status_code == 403
    assert client.get(f"{STAFF}/{report.reference}/history").status_code == 403
    other = staff_client(Client(), analyst)
    assert other.get(STAFF).status_code == 200
    denied = other.post(f"{STAFF}/{report.reference}/transition", {"status": "verified"},
                        content_type="application/json")  # fmt: skip
    assert denied.status_code == 403


def test_moderator_without_second_factor_is_refused(client, moderator):
    client.force_login(moderator)  # password only, no verified TOTP device in the session
    assert client.get(STAFF).status_code == 401


def test_session_writes_need_csrf(moderator):
    client = staff_client(Client(enforce_csrf_checks=True), moderator)
    report = make_report()
    response = client.post(f"{STAFF}/{report.reference}/transition", {"status": "verified"},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 403


def test_staff_sees_exact_location_and_contact(client, moderator):
    report = make_report(contact="maria@example.org")
    data = staff_client(client, moderator).get(f"{STAFF}/{report.reference}").json()
    assert data["exact_location"]["latitude"] == pytest.approx(14.0818)
    assert data["contact"] == "maria@example.org"
    listing = client.get(STAFF, {"status": "received"}).json()
    assert listing["status_counts"]["received"] == 1


def test_staff_moderation_flow_with_token(client, moderator):
    _, raw = token_create(user=moderator, name="desk")
    auth = {"Authorization": f"Bearer {raw}"}
    report = make_report()
    ref = report.reference
    for status in ("verified", "published"):
        r = client.post(f"{STAFF}/{ref}/transition", {"status": status},
                        content_type="application/json", headers=auth)  # fmt: skip
        assert r.status_code == 200, r.content
    bad = client.post(f"{STAFF}/{ref}/transition", {"status": "received", "reason": "x"},
                      content_type="application/json", headers=auth)  # fmt: skip
    assert bad.status_code == 409
    history = client.get(f"{STAFF}/{ref}/history", headers=auth).json()
    assert [h["action"] for h in history] == ["report.verified", "report.published"]
    assert history[0]["actor"] == "mona"


def test_staff_edit_lock_merge_bulk_comment(client, moderator, moderator2):
    one, two, three = make_report(), make_report(), make_report()
    staff_client(client, moderator)
    edit = client.patch(f"{STAFF}/{one.reference}", {"title": "Título corregido", "reason": "typo"},
                        content_type="application/json")  # fmt: skip
    assert edit.status_code == 200 and edit.json()["locked_by"] == "mona"
    other = staff_client(Client(), moderator2)
    locked = other.patch(f"{STAFF}/{one.reference}", {"title": "otro"},
                         content_type="application/json")  # fmt: skip
    assert locked.status_code == 409 and locked.json()["error"]["code"] == "locked"
    bulk = other.post(
        f"{STAFF}/bulk",
        {"references": [one.reference, two.reference, "NOPE"], "status": "verified"},
        content_type="application/json",
    )
    assert bulk.json()["done"] == [two.reference]
    assert set(bulk.json()["skipped"]) == {one.reference, "NOPE"}
    merge = client.post(f"{STAFF}/{one.reference}/merge", {"sources": [three.reference]},
                        content_type="application/json")  # fmt: skip
    assert merge.status_code == 200 and merge.json()["merged_sources"] == [three.reference]
    comment = client.post(f"{STAFF}/{one.reference}/comments", {"body": "<b>ojo</b>"},
                          content_type="application/json")  # fmt: skip
    assert comment.status_code == 201
    assert client.get(f"{STAFF}/{one.reference}").json()["comments"][0]["body"] == "<b>ojo</b>"


def _staff_operations():
    """Every operation of every staff router, read from the API itself: a new endpoint is
    covered by the denial tests below without anyone remembering to add it."""
    from sereno.api.api import api

    operations = []
    for prefix, router in api._routers:
        if not prefix.strip("/").startswith("staff"):
            continue
        for path, view in router.path_operations.items():
            for operation in view.operations:
                for method in operation.methods:
                    operations.append(
                        (
                            method,
                            "/api/v1/" + (prefix.strip("/") + "/" + path.lstrip("/")).strip("/"),
                        )
                    )
    return sorted(set(operations))


STAFF_OPERATIONS = _staff_operations()


def _call(client, method, path, reference, **extra):
    url = path.replace("{reference}", reference)
    payload = {"status": "verified", "references": [reference], "sources": [reference],
               "body": "x", "title": "cambiado", "reason": "prueba"}  # fmt: skip
    return client.generic(
        method, url, json.dumps(payload), content_type="application/json", **extra
    )


def test_staff_operations_were_found():
    assert len(STAFF_OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path"), STAFF_OPERATIONS)
def test_every_staff_endpoint_refuses_anonymous(client, method, path):
    report = make_report()
    assert _call(client, method, path, report.reference).status_code == 401
    assert Report.objects.get(pk=report.pk).status == "received"
    assert not Report.objects.exclude(title=report.title).exists()


@pytest.mark.parametrize(("method", "path"), STAFF_OPERATIONS)
def test_every_staff_endpoint_refuses_an_outsider(client, outsider, method, path):
    report = make_report()
    staff_client(client, outsider)
    assert _call(client, method, path, report.reference).status_code == 403
    assert Report.objects.get(pk=report.pk).status == "received"
    assert Report.objects.get(pk=report.pk).locked_by_id is None
    assert not report.comments.exists()


@pytest.mark.parametrize(("method", "path"), STAFF_OPERATIONS)
def test_every_staff_endpoint_refuses_an_outsiders_token(
    client, admin_user, outsider, method, path
):
    report = make_report()
    _, secret = token_create(actor=admin_user, user=outsider, name="outsider")
    response = _call(client, method, path, report.reference, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 403
    assert Report.objects.get(pk=report.pk).status == "received"
