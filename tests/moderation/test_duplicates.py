"""Duplicate suggestions: near in space (1 km) and time (±3 days), similar words."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from sereno.moderation.selectors import (
    distance_km,
    duplicate_candidates,
    fold_words,
    jaccard,
)
from sereno.reports.services import report_merge, report_transition
from tests.conftest import staff_client
from tests.factories import TEGUCIGALPA, make_report

pytestmark = pytest.mark.django_db

LAT, LON = TEGUCIGALPA
TEXT = {"title": "Balacera en la colonia Kennedy",
        "description": "Hombres armados dispararon frente a la pulpería del bulevar."}  # fmt: skip


def test_fold_words_folds_accents_case_and_stopwords():
    assert fold_words("¡Balacera en la Colonia KENNEDY, pulpería!") == {
        "balacera", "colonia", "kennedy", "pulperia",
    }  # fmt: skip
    assert fold_words("") == frozenset()


def test_jaccard_and_distance():
    assert jaccard(frozenset("ab"), frozenset("ab")) == 1.0
    assert jaccard(frozenset("ab"), frozenset("cd")) == 0.0
    assert jaccard(frozenset(), frozenset("a")) == 0.0
    assert distance_km(LAT, LON, LAT, LON) == 0
    assert 1.05 < distance_km(LAT, LON, LAT + 0.01, LON) < 1.2


def test_near_similar_report_is_suggested_with_its_measures():
    report = make_report(**TEXT)
    twin = make_report(
        title="Disparos en colonia Kennedy",
        description="Armados dispararon frente a una pulpería en el bulevar",
        latitude=LAT + 0.003, longitude=LON,
    )  # fmt: skip
    found = duplicate_candidates(report)
    assert [d.report for d in found] == [twin]
    assert 0.3 < found[0].distance_km < 0.4
    assert found[0].similarity >= 0.2
    assert duplicate_candidates(twin)[0].report == report  # symmetric


def test_far_away_late_or_different_reports_are_not_suggested(now):
    report = make_report(**TEXT)
    make_report(**TEXT, latitude=LAT + 0.02, longitude=LON)  # ~2.2 km north
    make_report(**TEXT, latitude=LAT + 0.0075, longitude=LON + 0.0075)  # in the box, ~1.15 km
    make_report(**TEXT, occurred_at=report.occurred_at - timedelta(days=4))
    make_report(title="Extorsión a un taxista", description="Le pidieron dinero por la ruta.")
    assert duplicate_candidates(report) == []


def test_ranking_prefers_similar_text_then_nearness():
    report = make_report(**TEXT)
    same_words = make_report(**TEXT, latitude=LAT + 0.005, longitude=LON)
    fewer_words = make_report(
        title="Balacera en colonia Kennedy",
        description="Hubo heridos frente a la pulpería.",
        latitude=LAT,
        longitude=LON,
    )
    found = [d.report for d in duplicate_candidates(report)]
    assert found == [same_words, fewer_words]


def test_merged_and_rejected_reports_are_left_out(moderator):
    report = make_report(**TEXT)
    merged = make_report(**TEXT)
    rejected = make_report(**TEXT)
    other = make_report(**TEXT)
    report_merge(actor=moderator, target_id=other.pk, source_ids=[merged.pk])
    report_transition(actor=moderator, report_id=rejected.pk, to_status="rejected", reason="x")
    assert [d.report for d in duplicate_candidates(report)] == [other]
    merged.refresh_from_db()
    assert duplicate_candidates(merged) == []


def test_without_coordinates_the_same_department_stands_in():
    report = make_report(**TEXT)
    make_report(**TEXT, latitude=None, longitude=None)
    nowhere = make_report(**TEXT, latitude=None, longitude=None)
    assert nowhere.department_code == ""
    assert duplicate_candidates(nowhere) == []
    assert len(duplicate_candidates(report)) == 0  # a point needs a point


def test_one_click_merge_of_a_suggestion(client, moderator):
    report = make_report(**TEXT)
    twin = make_report(**TEXT, latitude=LAT + 0.001, longitude=LON)
    staff_client(client, moderator)
    page = client.get(reverse("desk:detail", args=[report.reference])).text
    assert f'name="source" value="{twin.reference}"' in page
    client.post(reverse("desk:merge", args=[report.reference]), {"source": twin.reference})
    twin.refresh_from_db()
    assert twin.merged_into_id == report.pk
    page = client.get(reverse("desk:detail", args=[report.reference])).text
    assert f'name="source" value="{twin.reference}"' not in page


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "blue").save(out, "JPEG")
    return out.getvalue()


def test_staff_see_the_cleaned_copy_before_publication(
    client, analyst, outsider, django_capture_on_commit_callbacks
):
    photo = SimpleUploadedFile("casa.jpg", _jpeg(), content_type="image/jpeg")
    from sereno.reports.services import report_create
    from tests.factories import report_input

    with django_capture_on_commit_callbacks(execute=True):
        report, _ = report_create(data=report_input(**TEXT), files=[photo])
    media = report.media.get()
    assert media.state == "clean"
    url = reverse("desk:media", args=[media.pk])
    staff_client(client, analyst)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    assert f'src="{url}"' in client.get(reverse("desk:detail", args=[report.reference])).text
    assert client.get(f"/media/{media.pk}/").status_code == 404  # not public until published
    client.logout()
    staff_client(client, outsider)
    assert client.get(url).status_code == 403
