"""The source's side: submit, receipt shown once and confirmed, come back, replies, add more."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sereno.tips.models import Entry, Tip, TipFile
from tests.tips.conftest import MARKER, form_token, question_ids, receipt_from, submit

pytestmark = pytest.mark.django_db


def test_first_visit_sets_no_cookie_and_is_never_cached(client, channel):
    for path in ("/tips/", f"/tips/{channel.slug}/", "/tips/return/"):
        response = client.get(path)
        assert response.status_code == 200
        assert not response.cookies, path
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"
        assert "<script>" not in response.content.decode()  # no inline script (strict CSP)


def test_questionnaire_in_both_languages(client, channel):
    spanish = client.get(f"/tips/{channel.slug}/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    english = client.get(f"/tips/{channel.slug}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "¿Qué pasó?" in spanish and "Enviar la denuncia" in spanish
    assert "What happened?" in english and "Send the tip" in english
    assert "Town hall" in english and "Alcaldía" in spanish


def test_submission_gives_an_8_word_receipt_that_must_be_typed_back(client, channel, recipient):
    response = submit(client, channel)
    assert response.status_code == 201
    assert not response.cookies
    receipt = receipt_from(response)
    assert len(receipt.split()) == 8
    shown = response.content.decode().split('name="shown" value="')[1].split('"')[0]

    wrong = client.post("/tips/receipt/", {"shown": shown, "typed": "abeja " * 8})
    assert wrong.status_code == 422
    assert "no es el mismo recibo" in wrong.content.decode()
    assert receipt_from(wrong) == receipt  # shown again until confirmed

    # Accents, case and extra spaces do not matter; 4 letters per word are enough.
    typed = "  ".join(word.upper()[:4] for word in receipt.split())
    confirmed = client.post("/tips/receipt/", {"shown": shown, "typed": typed})
    assert confirmed.status_code == 303
    assert "tips_source" in confirmed.cookies
    cookie = confirmed.cookies["tips_source"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/tips/"
    box = client.get(confirmed["Location"])
    assert MARKER in box.content.decode()


def test_return_with_receipt_reply_and_comment(client, channel, recipient_client):
    from django.test import Client

    source = Client()
    receipt = receipt_from(submit(source, channel))
    token = form_token(source, "/tips/return/")
    back = source.post("/tips/return/", {"token": token, "receipt": receipt})
    assert back.status_code == 303
    tip = Tip.objects.get()

    inbox = recipient_client.get("/tips/inbox/").content.decode()
    assert "Actividad nueva" in inbox
    page = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert MARKER in page
    assert "Actividad nueva" not in recipient_client.get("/tips/inbox/").content.decode()
    recipient_client.post(f"/tips/inbox/{tip.pk}/reply/", {"text": "Gracias, ¿tiene fechas?"})

    box = source.get("/tips/box/").content.decode()
    assert "Gracias, ¿tiene fechas?" in box
    token = box.split('name="token" value="')[1].split('"')[0]
    photo = SimpleUploadedFile("recibo.txt", b"pago de 5000 lempiras", "text/plain")
    data = {"token": token, "text": "El 3 de mayo", "files": photo}
    sent = source.post("/tips/box/comment/", data)
    assert sent.status_code == 303
    assert Entry.objects.filter(kind="comment").count() == 1
    assert "Actividad nueva" in recipient_client.get("/tips/inbox/").content.decode()
    page = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert "El 3 de mayo" in page and "recibo.txt" in page

    left = source.post("/tips/box/leave/", {})
    assert left.status_code == 303
    assert source.get("/tips/box/").status_code == 403


def test_replayed_form_is_refused_and_stores_nothing_twice(client, channel, recipient):
    ids = question_ids(channel)
    data = {"token": form_token(client, f"/tips/{channel.slug}/"), f"q{ids['text']}": MARKER}
    assert client.post(f"/tips/{channel.slug}/", data).status_code == 201
    again = client.post(f"/tips/{channel.slug}/", data)
    assert again.status_code == 400
    assert "ya fue enviado" in again.content.decode()
    assert Tip.objects.count() == 1


def test_forged_or_missing_token_is_refused(client, channel):
    ids = question_ids(channel)
    for token in ("", "made-up", form_token(client, "/tips/return/")):
        response = client.post(f"/tips/{channel.slug}/", {"token": token, f"q{ids['text']}": "x"})
        assert response.status_code == 400
    assert Tip.objects.count() == 0


def test_missing_required_answer_keeps_what_was_typed(client, channel):
    ids = question_ids(channel)
    token = form_token(client, f"/tips/{channel.slug}/")
    response = client.post(
        f"/tips/{channel.slug}/", {"token": token, f"q{ids['place']}": "Choloma"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Esta pregunta necesita respuesta." in html and 'value="Choloma"' in html
    assert Tip.objects.count() == 0


def test_malformed_receipt_gets_a_clear_error(client, channel):
    token = form_token(client, "/tips/return/")
    response = client.post("/tips/return/", {"token": token, "receipt": "abeja abeja"})
    assert response.status_code == 422
    assert "8 palabras" in response.content.decode()
    response = client.post("/tips/return/", {"token": token, "receipt": "xyzzy " * 8})
    assert "xyzzy" in response.content.decode() and "lista" in response.content.decode()


def test_wrong_receipts_all_get_the_same_answer(client, channel, recipient):
    receipt = receipt_from(submit(client, channel))
    words = receipt.split()
    near = " ".join(words[:-1] + ["abeja" if words[-1] != "abeja" else "abrazo"])
    bodies = set()
    for guess in (near, "zorro " * 8, "abeja " * 8):
        token = form_token(client, "/tips/return/")
        response = client.post("/tips/return/", {"token": token, "receipt": guess})
        assert response.status_code == 403
        assert not response.cookies
        html = response.content.decode()
        bodies.add(html.split('role="alert"')[1].split("</div>")[0])
    assert len(bodies) == 1


def test_receipt_guessing_is_throttled_per_visit_and_globally(client, channel, settings):
    settings.TIPS_RATE_RECEIPT_SESSION = "3/3600"
    settings.TIPS_RATE_RECEIPT_GLOBAL = "5/600"
    html = client.get("/tips/return/").content.decode()
    first = html.split('name="token" value="')[1].split('"')[0]
    statuses = []
    token = first
    for _ in range(4):  # the same visit: each answer carries a fresh token of that visit
        response = client.post("/tips/return/", {"token": token, "receipt": "zorro " * 8})
        statuses.append(response.status_code)
        if response.status_code == 403:
            token = response.content.decode().split('name="token" value="')[1].split('"')[0]
    assert statuses == [403, 403, 403, 429]
    # New visits (fresh forms) still meet the global limit.
    statuses = []
    for _ in range(3):
        token = form_token(client, "/tips/return/")
        statuses.append(
            client.post("/tips/return/", {"token": token, "receipt": "zorro " * 8}).status_code
        )
    assert statuses == [403, 403, 429]


def test_submissions_are_rate_limited_without_addresses(client, channel, settings):
    settings.TIPS_RATE_SUBMIT_SESSION = "100/3600"
    settings.TIPS_RATE_SUBMIT_GLOBAL = "2/3600"
    assert [submit(client, channel).status_code for _ in range(3)] == [201, 201, 429]


def test_tip_without_recipient_keys_is_still_stored_encrypted(client, channel):
    assert submit(client, channel).status_code == 201
    tip = Tip.objects.get()
    assert tip.accesses.count() == 0 and MARKER.encode() not in bytes(tip.entries.get().sealed)


def test_closed_channel_is_not_found(client, channel):
    channel.active = False
    channel.save()
    assert client.get(f"/tips/{channel.slug}/").status_code == 404


def test_path_traversal_in_file_names_is_neutralised(client, channel, recipient_client, settings):
    evil = SimpleUploadedFile("../../../etc/passwd", b"root:x:0:0", "text/plain")
    assert submit(client, channel, files=[evil]).status_code == 201
    stored = [p for p in (settings.MEDIA_DIR / "tips").rglob("*") if p.is_file()]
    assert stored and all(p.resolve().is_relative_to(settings.MEDIA_DIR / "tips") for p in stored)
    assert not any("passwd" in str(p) for p in stored)
    tip = Tip.objects.get()
    html = recipient_client.get(f"/tips/inbox/{tip.pk}/").content.decode()
    assert '<span class="file-name">passwd</span>' in html
    tip_file = TipFile.objects.get()
    download = recipient_client.get(f"/tips/inbox/{tip.pk}/files/{tip_file.pk}/original/")
    assert b"".join(download.streaming_content) == b"root:x:0:0"
    assert "filename*=UTF-8''passwd" in download["Content-Disposition"]


def test_confirming_the_receipt_is_limited_like_the_return_page(client, channel, settings):
    settings.TIPS_RATE_RECEIPT_GLOBAL = "1/600"
    response = submit(client, channel)
    receipt = receipt_from(response)
    shown = response.content.decode().split('name="shown" value="')[1].split('"')[0]
    data = {"shown": shown, "typed": receipt}
    assert client.post("/tips/receipt/", data).status_code == 303
    assert client.post("/tips/receipt/", data).status_code == 429
