"""The moderation desk's pages: who may see and do what, and that every action goes through the
services (audited, lock-aware, nothing half-written)."""

from datetime import timedelta

import pytest
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from sereno.accounts.models import AuditEntry
from sereno.reports.models import Comment, Report
from sereno.reports.services import report_lock
from tests.conftest import make_user, staff_client
from tests.factories import make_report, publish

pytestmark = pytest.mark.django_db

QUEUE = "/desk/"


def detail_url(report):
    return reverse("desk:detail", args=[report.reference])


def desk_urls():
    """Every route of the desk, found from the URLconf itself: a new view cannot slip past."""
    resolver = get_resolver().url_patterns
    desk = next(p for p in resolver if getattr(p, "namespace", None) == "desk")
    out = []
    for pattern in desk.url_patterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {}
        if "reference" in pattern.pattern.converters:
            kwargs["reference"] = "REF"
        if "media_id" in pattern.pattern.converters:
            kwargs["media_id"] = 1
        out.append(reverse(f"desk:{pattern.name}", kwargs=kwargs))
    return out


def _real(url, report):
    return url.replace("/REF/", f"/{report.reference}/")


@pytest.fixture
def report(db):
    return make_report(title="Asalto en la colonia Kennedy")


# --- access ------------------------------------------------------------------------------------


def test_there_are_desk_urls():
    assert len(desk_urls()) >= 9


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_sign_in_everywhere(client, report, method):
    for url in desk_urls():
        response = getattr(client, method)(_real(url, report))
        if response.status_code == 405:
            continue
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url
    assert Report.objects.get(pk=report.pk).status == "received"


def test_anonymous_keeps_the_page_to_return_to(client):
    response = client.get("/desk/?status=verified")
    assert response["Location"] == "/accounts/login/?next=/desk/%3Fstatus%3Dverified"


@pytest.mark.parametrize("method", ["get", "post"])
def test_outsider_gets_403_everywhere(client, outsider, report, method):
    staff_client(client, outsider)
    for url in desk_urls():
        response = getattr(client, method)(_real(url, report), {"status": "verified"})
        assert response.status_code in (403, 405), url
    assert Report.objects.get(pk=report.pk).status == "received"


def test_moderator_without_second_factor_this_session_must_sign_in(client, moderator):
    client.force_login(moderator)  # password only: no verified device in the session
    response = client.get(QUEUE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_analyst_reads_but_cannot_act(client, analyst, moderator, report):
    staff_client(client, analyst)
    page = client.get(QUEUE).text
    assert report.reference in page
    assert 'name="ids"' not in page and 'name="action"' not in page
    detail = client.get(detail_url(report)).text
    assert "Asalto en la colonia Kennedy" in detail
    assert "do-verified" not in detail and 'name="source"' not in detail
    assert "14.081800" not in detail  # no exact location for analysts
    for name in ("transition", "lock", "unlock", "merge", "comment"):
        url = reverse(f"desk:{name}", args=[report.reference])
        assert client.post(url, {"status": "verified", "body": "x"}).status_code == 403, name
    assert (
        client.post("/desk/bulk/", {"ids": [report.reference], "action": "verify"}).status_code
        == 403
    )
    assert client.get(reverse("desk:edit", args=[report.reference])).status_code == 403
    assert Report.objects.get(pk=report.pk).status == "received"
    assert not Comment.objects.exists()


# --- queue -------------------------------------------------------------------------------------


def test_queue_shows_received_first_with_counts(client, moderator):
    old = make_report(title="Primero en llegar")
    new = make_report(title="Segundo en llegar")
    done = make_report(title="Ya publicado")
    publish(done, moderator)
    staff_client(client, moderator)
    response = client.get(QUEUE)
    assert response.status_code == 200
    page = response.text
    assert page.index(old.reference) < page.index(new.reference)  # waited longest on top
    assert done.reference not in page
    assert 'aria-current="page"' in page
    counts = response.context["tabs"]
    assert {value: n for value, _label, n, _q in counts}["received"] == 2
    assert {value: n for value, _label, n, _q in counts}["published"] == 1
    everything = client.get(QUEUE, {"status": "all"}).text
    assert everything.index(new.reference) < everything.index(done.reference)


def test_queue_filters(client, moderator):
    a = make_report(title="Extorsión a buses", categories=["extorsion"])
    b = make_report(title="Robo en mercado", latitude=15.5042, longitude=-88.0250)  # SPS
    staff_client(client, moderator)
    page = client.get(QUEUE, {"category": "extorsion"}).text
    assert a.reference in page and b.reference not in page
    page = client.get(QUEUE, {"department": b.department_code}).text
    assert b.reference in page and a.reference not in page
    page = client.get(QUEUE, {"q": "mercado"}).text
    assert b.reference in page and a.reference not in page
    today = timezone.localdate()
    page = client.get(QUEUE, {"date_from": (today + timedelta(days=1)).isoformat()}).text
    assert a.reference not in page and b.reference not in page
    page = client.get(QUEUE, {"date_from": (today - timedelta(days=3)).isoformat()}).text
    assert a.reference in page and b.reference in page


@pytest.mark.parametrize(
    "params",
    [
        {"status": "nonsense"},
        {"date_from": "yesterday"},
        {"date_from": "2025-02-10", "date_to": "2025-02-01"},
        {"category": "no-such"},
        {"department": "HN99"},
        {"q": "x" * 500},
    ],
)
def test_queue_bad_filters_say_what_is_wrong(client, moderator, params):
    staff_client(client, moderator)
    response = client.get(QUEUE, params)
    assert response.status_code == 400
    assert 'role="alert"' in response.text


def test_queue_paginates(client, moderator):
    for i in range(27):
        make_report(title=f"Informe número {i}")
    staff_client(client, moderator)
    first = client.get(QUEUE)
    assert len(first.context["rows"]) == 25 and 'rel="next"' in first.text
    second = client.get(QUEUE, {"page": 2})
    assert len(second.context["rows"]) == 2
    assert client.get(QUEUE, {"page": "zzz"}).status_code == 200


def test_queue_htmx_returns_the_results_fragment(client, moderator, report):
    staff_client(client, moderator)
    response = client.get(QUEUE, {"q": "Kennedy"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="queue-results"')
    assert report.reference in response.text


# --- bulk --------------------------------------------------------------------------------------


def test_bulk_publish_skips_locked_reports_and_says_so(client, moderator, moderator2):
    free = [make_report(title=f"Libre {i}") for i in range(2)]
    held = make_report(title="Bloqueado")
    for r in [*free, held]:
        client_verify(r, moderator)
    report_lock(actor=moderator2, report_id=held.pk)
    staff_client(client, moderator)
    refs = [r.reference for r in [*free, held]]
    response = client.post("/desk/bulk/", {"ids": refs, "action": "publish"}, follow=True)
    text = response.text
    statuses = dict(Report.objects.values_list("reference", "status"))
    assert [statuses[r.reference] for r in free] == ["published", "published"]
    assert statuses[held.reference] == "verified"
    assert f"{held.reference} (mateo)" in text


def client_verify(report, actor):
    from sereno.reports.services import report_transition

    report_transition(actor=actor, report_id=report.pk, to_status="verified")


def test_bulk_reject_needs_a_reason_and_changes_nothing_without(client, moderator, report):
    staff_client(client, moderator)
    before = AuditEntry.objects.count()
    response = client.post(
        "/desk/bulk/", {"ids": [report.reference], "action": "reject", "reason": " "}, follow=True
    )
    assert response.status_code == 200
    assert Report.objects.get(pk=report.pk).status == "received"
    assert AuditEntry.objects.count() == before
    assert 'class="error"' in response.text
    client.post("/desk/bulk/", {"ids": [report.reference], "action": "reject",
                                "reason": "Spam"})  # fmt: skip
    assert Report.objects.get(pk=report.pk).status == "rejected"
    assert AuditEntry.objects.filter(action="report.rejected", reason="Spam").exists()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "verify"},  # nothing selected
        {"ids": ["X"], "action": "delete"},
        {"ids": ["X"]},
    ],
)
def test_bulk_bad_input_changes_nothing(client, moderator, report, data):
    staff_client(client, moderator)
    response = client.post("/desk/bulk/", data)
    assert response.status_code == 302
    assert Report.objects.get(pk=report.pk).status == "received"


def test_bulk_reports_invalid_transitions_and_unknown_references(client, moderator, report):
    staff_client(client, moderator)
    response = client.post(
        "/desk/bulk/", {"ids": [report.reference, "NOPE"], "action": "publish"}, follow=True
    )
    assert f"{report.reference}:" in response.text and "NOPE" in response.text
    assert Report.objects.get(pk=report.pk).status == "received"


def test_bulk_returns_to_the_filtered_queue_only(client, moderator, report):
    staff_client(client, moderator)
    data = {"ids": [report.reference], "action": "verify", "next": "/desk/?q=Kennedy"}
    assert client.post("/desk/bulk/", data)["Location"] == "/desk/?q=Kennedy"
    data = {"ids": [report.reference], "action": "verify", "next": "https://evil.example/"}
    assert client.post("/desk/bulk/", data)["Location"] == "/desk/"


# --- detail and actions --------------------------------------------------------------------------


def test_detail_shows_everything_a_moderator_needs(client, moderator):
    report = make_report(contact="+504 9999-0000")
    staff_client(client, moderator)
    page = client.get(detail_url(report)).text
    assert "14.081800, -87.206800" in page  # exact, staff only
    assert 'id="map"' in page and "vendor/leaflet/leaflet.js" in page
    assert "+504 9999-0000" in page
    assert "do-verified" in page and "do-rejected" in page and "do-published" not in page
    assert 'id="comments"' in page


def test_contact_needs_its_own_permission(client, report):
    from django.contrib.auth.models import Permission

    user = make_user("vera", "analyst")
    user.user_permissions.add(
        Permission.objects.get(codename="view_exact_location", content_type__app_label="reports")
    )
    report = make_report(contact="+504 1111-2222")
    staff_client(client, user)
    page = client.get(detail_url(report)).text
    assert "+504 1111-2222" not in page and "14.081800" in page


def test_unknown_reference_is_404(client, moderator):
    staff_client(client, moderator)
    assert client.get("/desk/r/NOSUCHREF/").status_code == 404
    assert client.post("/desk/r/NOSUCHREF/transition/", {"status": "verified"}).status_code == 404


def test_publish_from_the_detail_page_is_audited(client, moderator, report):
    staff_client(client, moderator)
    url = reverse("desk:transition", args=[report.reference])
    client.post(url, {"status": "verified"})
    response = client.post(url, {"status": "published"}, follow=True)
    assert Report.objects.get(pk=report.pk).status == "published"
    page = response.text
    # The history, in words (Spanish by default), with the raw codes kept for tools.
    assert ">Publicado</span>" in page and ">Verificado</span>" in page
    assert 'data-action="report.published"' in page


def test_reject_without_reason_is_refused_clearly(client, moderator, report):
    staff_client(client, moderator)
    url = reverse("desk:transition", args=[report.reference])
    response = client.post(url, {"status": "rejected"}, follow=True)
    assert Report.objects.get(pk=report.pk).status == "received"
    assert 'class="error"' in response.text
    assert client.post(url, {"status": "bogus"}).status_code == 302
    assert Report.objects.get(pk=report.pk).status == "received"


def test_actions_refused_while_another_moderator_holds_the_lock(
    client, moderator, moderator2, report
):
    report_lock(actor=moderator2, report_id=report.pk)
    staff_client(client, moderator)
    page = client.get(detail_url(report)).text
    assert "mateo" in page
    client.post(reverse("desk:transition", args=[report.reference]), {"status": "verified"})
    assert Report.objects.get(pk=report.pk).status == "received"
    response = client.post(reverse("desk:lock", args=[report.reference]), follow=True)
    assert "mateo" in response.text
    assert Report.objects.get(pk=report.pk).locked_by == moderator2


def test_edit_under_the_lock(client, moderator, moderator2, report):
    staff_client(client, moderator)
    edit = reverse("desk:edit", args=[report.reference])
    assert client.get(edit).status_code == 302  # no lock yet: back to the report
    assert client.post(reverse("desk:lock", args=[report.reference]))["Location"] == edit
    form = client.get(edit)
    assert form.status_code == 200
    data = dict(form.context["form"].initial)
    data.update(
        title="Asalto armado en la colonia Kennedy",
        categories=["robo-asalto", "amenazas"],
        occurred_at=timezone.localtime(report.occurred_at).strftime("%Y-%m-%dT%H:%M"),
        sensitive_by_moderator="on",
        latitude="14.09",
        longitude="-87.2",
        reason="Precisión",
    )
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    response = client.post(edit, data)
    assert response.status_code == 302, response.context["form"].errors
    report.refresh_from_db()
    assert report.title == "Asalto armado en la colonia Kennedy"
    assert report.sensitive and report.latitude == 14.09
    assert sorted(report.categories.values_list("slug", flat=True)) == ["amenazas", "robo-asalto"]
    assert report.locked_by is None  # released after saving
    entry = AuditEntry.objects.get(action="report.edit")
    assert set(entry.after) == {"title", "categories", "sensitive_by_moderator", "latitude",
                                "longitude"}  # fmt: skip


def test_edit_bad_input_writes_nothing(client, moderator, report):
    staff_client(client, moderator)
    client.post(reverse("desk:lock", args=[report.reference]))
    edit = reverse("desk:edit", args=[report.reference])
    future = (timezone.localtime() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    for bad in (
        {"title": ""},
        {"latitude": "95", "longitude": "-87"},
        {"latitude": "14.1", "longitude": ""},
        {"occurred_at": future},
        {"categories": ["no-such"]},
    ):
        data = {"title": report.title, "description": report.description,
                "occurred_at": timezone.localtime(report.occurred_at).strftime("%Y-%m-%dT%H:%M"),
                "occurred_precision": "day", "location_precision": "exact",
                "latitude": "14.0818", "longitude": "-87.2068", **bad}  # fmt: skip
        response = client.post(edit, data)
        assert response.status_code == 400, bad
        assert "errorlist" in response.text, bad
    report.refresh_from_db()
    assert report.title == "Asalto en la colonia Kennedy"
    assert not AuditEntry.objects.filter(action="report.edit").exists()


def test_comment_plain_and_htmx(client, moderator, report):
    staff_client(client, moderator)
    url = reverse("desk:comment", args=[report.reference])
    assert client.post(url, {"body": "Llamé a la fuente"})["Location"].endswith("#comments")
    response = client.post(url, {"body": "Confirmado"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section class="comments" id="comments"')
    assert "Llamé a la fuente" in response.text and "Confirmado" in response.text
    empty = client.post(url, {"body": "   "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and 'role="alert"' in empty.text
    assert Comment.objects.count() == 2


def test_merge_from_the_detail_page(client, moderator):
    target = make_report(title="Balacera en la colonia Kennedy")
    source = make_report(title="Disparos en colonia Kennedy", categories=["homicidio"])
    staff_client(client, moderator)
    page = client.get(detail_url(target)).text
    assert source.reference in page  # suggested as a duplicate
    response = client.post(reverse("desk:merge", args=[target.reference]),
                           {"source": source.reference}, follow=True)  # fmt: skip
    source.refresh_from_db()
    assert source.merged_into == target and source.status == "archived"
    assert "homicidio" in target.categories.values_list("slug", flat=True)
    assert "report.merge" in response.text


def test_merge_bad_input(client, moderator, report):
    other = make_report()
    staff_client(client, moderator)
    url = reverse("desk:merge", args=[report.reference])
    assert "NOPE" in client.post(url, {"source": "NOPE"}, follow=True).text
    client.post(url, {"source": report.reference})  # into itself
    publish(report, moderator)
    from sereno.reports.services import report_transition

    report_transition(actor=moderator, report_id=report.pk, to_status="archived", reason="old")
    response = client.post(url, {"source": other.reference}, follow=True)
    assert 'class="error"' in response.text
    assert Report.objects.filter(merged_into__isnull=False).count() == 0


def test_media_only_cleaned_and_only_staff(client, moderator, report):
    from sereno.reports.models import Media

    bad = Media.objects.create(
        report=report, original_name="a.jpg", content_type="image/jpeg", size=3,
        sha256="0" * 64, original_path="x", state="unsupported",
    )  # fmt: skip
    staff_client(client, moderator)
    assert client.get(reverse("desk:media", args=[bad.pk])).status_code == 404
    page = client.get(detail_url(report), headers={"Accept-Language": "en"}).text
    assert "cannot be cleaned" in page and "the original stays encrypted" in page


def test_desk_pages_are_not_cached_and_have_no_inline_script(client, moderator, report):
    staff_client(client, moderator)
    for url in (QUEUE, detail_url(report)):
        response = client.get(url)
        assert response["Cache-Control"] == "no-store"
        assert "<script>" not in response.text and " style=" not in response.text
        assert " onclick" not in response.text


def test_desk_in_english_and_spanish(client, moderator, report):
    staff_client(client, moderator)
    assert "Review queue" in client.get(QUEUE, headers={"Accept-Language": "en"}).text
    assert "Cola de revisión" in client.get(QUEUE, headers={"Accept-Language": "es"}).text


def test_desk_pages_let_forms_post_with_a_real_origin(client, moderator, report):
    """Under Referrer-Policy no-referrer Chromium posts forms with "Origin: null", which Django's
    CSRF check refuses; the desk says same-origin (still nothing to other sites)."""
    staff_client(client, moderator)
    for url in (QUEUE, detail_url(report)):
        assert client.get(url)["Referrer-Policy"] == "same-origin"


def test_history_lists_each_change(client, moderator, report):
    staff_client(client, moderator)
    client.post(reverse("desk:transition", args=[report.reference]), {"status": "verified"})
    page = client.get(detail_url(report)).text
    assert "Estado: recibido → verificado" in page


def test_queue_and_detail_queries_do_not_grow_with_rows(
    client, moderator, moderator2, django_assert_max_num_queries
):
    reports = [make_report(title=f"Informe {i}", contact="+504 0000") for i in range(30)]
    for r in reports[:5]:
        report_lock(actor=moderator2, report_id=r.pk)
    staff_client(client, moderator)
    with django_assert_max_num_queries(15):
        assert client.get(QUEUE, {"status": "all"}).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(detail_url(reports[0])).status_code == 200
