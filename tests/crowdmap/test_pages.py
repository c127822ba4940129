"""The public pages without a browser: the report form as a plain POST (the path without
JavaScript), the map page's filters as a plain GET, and the service worker."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sereno.reports.models import Report
from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db

TOKEN = "tok_abcdefghijklmnopqrstuv"


def form_data(**overrides):
    data = {
        "title": "Asalto en la parada",
        "categories": ["robo-asalto"],
        "when_date": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "when_time": "",
        "description": "Dos hombres armados asaltaron a los pasajeros.",
        "place_name": "Comayagüela",
        "department": "",
        "contact": "9999-0000",
        "token": TOKEN,
    }
    data.update(overrides)
    return data


def test_form_page_has_a_one_time_token_and_privacy_notes(client):
    first = client.get("/report/")
    second = client.get("/report/")
    assert first.status_code == 200
    assert 'name="token"' in first.text
    assert first.context["form"]["token"].value() != second.context["form"]["token"].value()
    assert "nunca se publica" in first.text  # the exact spot / the contact are never published
    assert 'enctype="multipart/form-data"' in first.text


def test_plain_post_creates_a_web_report_and_shows_the_reference(client):
    response = client.post("/report/", form_data())
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.channel == "web"
    assert report.status == "received"
    assert report.intake_key == f"web:{TOKEN}"
    assert report.reference in response.text
    assert "Qué pasa ahora" in response.text
    assert report.latitude is not None  # the typed place was found in the gazetteer
    assert report.contact_encrypted and b"9999" not in bytes(report.contact_encrypted)


def test_double_post_makes_one_report(client):
    first = client.post("/report/", form_data())
    second = client.post("/report/", form_data())
    assert Report.objects.count() == 1
    reference = Report.objects.get().reference
    assert reference in first.text and reference in second.text


def test_errors_are_shown_next_to_the_fields_in_spanish(client):
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = client.post("/report/", form_data(title="", description="", when_date=future))
    assert response.status_code == 422
    assert Report.objects.count() == 0
    errors = response.context["form"].errors
    assert set(errors) >= {"title", "description", "when_date"}
    assert "Este campo es obligatorio." in response.text
    assert 'id="id_title-error"' in response.text


def test_errors_in_english(client):
    client.cookies["django_language"] = "en"
    response = client.post("/report/", form_data(title=""), headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "This field is required." in response.text


def test_unknown_category_and_bad_token_are_refused(client):
    response = client.post("/report/", form_data(categories=["nope"], token="x"))
    assert response.status_code == 422
    assert {"categories", "token"} <= set(response.context["form"].errors)
    assert Report.objects.count() == 0


def test_department_without_a_known_place_locates_at_department_level(client):
    client.post("/report/", form_data(place_name="Un lugar que no existe", department="HN08"))
    report = Report.objects.get()
    assert report.location_precision == "department"
    assert report.department_code == "HN08"


def test_coordinates_from_the_page_are_used(client):
    client.post("/report/", form_data(latitude="15.5", longitude="-88.03",
                                      location_precision="exact"))  # fmt: skip
    report = Report.objects.get()
    assert (report.latitude, report.longitude) == (15.5, -88.03)
    assert report.location_precision == "exact"


def test_time_makes_an_exact_time_report(client):
    client.post("/report/", form_data(when_time="21:30"))
    report = Report.objects.get()
    assert report.occurred_precision == "exact"
    assert timezone.localtime(report.occurred_at).strftime("%H:%M") == "21:30"


def test_map_page_filters_work_as_a_plain_get(client, moderator):
    publish(make_report(title="Robo norte", categories=["robo-asalto"]), moderator)
    publish(make_report(title="Otro tema", categories=["homicidio"]), moderator)
    page = client.get("/", {"category": "robo-asalto"})
    assert page.status_code == 200
    assert "Robo norte" in page.text and "Otro tema" not in page.text
    both = client.get("/")
    assert "Robo norte" in both.text and "Otro tema" in both.text
    bad = client.get("/", {"date_from": "not-a-date", "department": "XX"})
    assert bad.status_code == 200 and "Robo norte" in bad.text  # a bad link still shows a page


def test_map_page_carries_the_view_and_no_inline_script(client):
    page = client.get("/", {"lat": "15.5", "lon": "-88.0", "z": "12"})
    assert 'data-zoom="12"' in page.text and 'data-view-set="1"' in page.text
    assert "<script>" not in page.text and " style=" not in page.text
    assert "onclick" not in page.text


def test_published_list_stays_reachable(client, moderator):
    publish(make_report(title="Lista completa"), moderator)
    assert "Lista completa" in client.get("/reports/").text


def test_service_worker_scope_covers_the_form(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert '"/report/"' in response.text


def test_script_path_answers_json_and_honours_the_idempotency_key(client):
    headers = {"Accept": "application/json", "Idempotency-Key": "web-0123456789abcdef0123"}
    first = client.post("/report/", form_data(token="ignored-for-the-header"), headers=headers)
    again = client.post("/report/", form_data(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["reference"] == again.json()["reference"]
    report = Report.objects.get()
    assert report.intake_key == "web:web-0123456789abcdef0123" and report.channel == "web"


def test_script_path_returns_field_errors_as_json(client):
    response = client.post("/report/", form_data(description=""),
                           headers={"Accept": "application/json"})  # fmt: skip
    assert response.status_code == 422
    assert "description" in response.json()["errors"]


@pytest.mark.parametrize("path", ["/", "/report/", "/reports/"])
def test_public_pages_keep_to_the_strict_policy(client, path):
    response = client.get(path)
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "no-referrer"
    body = response.text
    assert "<script>" not in body and " style=" not in body and " onclick=" not in body
    assert "http://" not in body.replace(settings.TILE_URL, "") and "https://" not in body.replace(
        settings.TILE_URL, ""
    )


def test_language_switch_by_link_keeps_the_page(client):
    response = client.get("/lang/en/", {"next": "/report/?x=1"})
    assert response.status_code == 302 and response["Location"] == "/report/?x=1"
    assert "Send a report" in client.get("/report/").text
    evil = client.get("/lang/es/", {"next": "https://evil.example/"})
    assert evil["Location"] == "/"
    assert "Enviar un informe" in client.get("/report/").text


def test_errors_are_tied_to_their_fields_for_screen_readers(client):
    response = client.post("/report/", form_data(title="", contact="x" * 300))
    assert 'aria-invalid="true"' in response.text
    assert 'aria-describedby="id_title-error"' in response.text
    assert 'aria-describedby="id_contact-error id_contact-help"' in response.text
