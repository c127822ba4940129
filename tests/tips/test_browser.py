"""The whole source flow in Chromium with JavaScript off (Tor Browser's "Safest" level)."""

import pytest

from tests.conftest import staff_client
from tests.tips.conftest import MARKER


@pytest.fixture
def tip_channel(transactional_db):
    from sereno.tips.models import Channel, Question
    from tests.tips.conftest import make_recipient

    channel = Channel.objects.create(slug="corrupcion", name="Corrupción", name_en="Corruption")
    Question.objects.create(
        channel=channel, order=1, kind="text", label="¿Qué pasó?", required=True
    )
    Question.objects.create(
        channel=channel, order=2, kind="choice", label="Institución", choices="Alcaldía\nPolicía"
    )
    make_recipient("rita", channel)
    return channel


def test_submit_confirm_leave_return_and_comment_without_javascript(
    page_no_js,
    live_server,
    tip_channel,
    tmp_path,
):
    page = page_no_js
    context = page.context
    page.goto(live_server.url + "/tips/")
    assert context.cookies() == []  # no cookie before one is needed
    page.get_by_role("link", name="Corrupción").click()
    page.get_by_label("¿Qué pasó?").fill(MARKER)
    page.get_by_label("Institución").select_option("Policía")
    evidence = tmp_path / "nota.txt"
    evidence.write_text("pruebas")
    page.set_input_files("#files", str(evidence))
    page.get_by_role("button", name="Enviar la denuncia").click()

    words = page.locator("ol.receipt li").all_inner_texts()
    assert len(words) == 8
    assert context.cookies() == []  # still none: the receipt page sets nothing
    page.get_by_label("escriba aquí su recibo").fill(" ".join(words[:7]))
    page.get_by_role("button", name="Ya lo anoté: continuar").click()
    assert "no es el mismo recibo" in page.content()
    page.get_by_label("escriba aquí su recibo").fill(" ".join(words))
    page.get_by_role("button", name="Ya lo anoté: continuar").click()

    assert page.get_by_role("heading", name="Su denuncia").is_visible()
    assert MARKER in page.content() and "Policía" in page.content()
    assert [c["name"] for c in context.cookies()] == ["tips_source"]

    page.get_by_role("button", name="Cerrar mi buzón").click()
    assert context.cookies() == []
    page.get_by_role("link", name="Ya envié una denuncia: ingresar mi recibo").first.click()
    page.get_by_label("Su recibo (8 palabras)").fill(" ".join(w.upper() for w in words))
    page.get_by_role("button", name="Abrir mi denuncia").click()
    assert MARKER in page.content()

    page.get_by_label("Comentario").fill("Fue el 3 de mayo")
    page.get_by_role("button", name="Enviar", exact=True).click()
    assert "Fue el 3 de mayo" in page.content()

    from sereno.tips.models import Entry

    assert Entry.objects.filter(kind="comment").count() == 1


def test_recipient_signs_in_with_totp_onboards_unlocks_reads_and_replies(
    page, live_server, tip_channel, client
):
    """The recipient's journey in a real browser (JavaScript on): password + TOTP, the
    recovery key typed back, unlocking, reading and replying. Django's CSRF check (with the
    Origin the browser sends) must accept every form."""
    from django_otp.oath import TOTP

    from sereno.tips.models import Entry, Tip
    from tests.conftest import PASSWORD
    from tests.tips.conftest import make_recipient, submit

    submit(client, tip_channel)  # a tip arrives before the new recipient has a key
    user = make_recipient("rosa", tip_channel, with_key=False)
    device = user.totpdevice_set.get()
    code = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift).token()

    page.goto(live_server.url + "/tips/inbox/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", "rosa")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=otp_token]", f"{code:06d}")
    page.click("button[type=submit].primary")
    page.wait_for_url("**/tips/keys/")

    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Crear mi llave de denuncias").click()
    recovery = page.locator("p.recovery code").inner_text()
    page.fill("#typed", recovery)
    page.get_by_role("button", name="Confirmar").click()
    page.wait_for_url("**/tips/inbox/")

    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Desbloquear").click()
    assert "Todavía no hay denuncias." in page.content()  # the old tip was not for this key

    rita = tip_channel.recipients.get(username="rita")  # a colleague opens it once
    colleague = staff_client(type(client)(), rita)
    colleague.post("/tips/inbox/unlock/", {"password": PASSWORD})
    colleague.get(f"/tips/inbox/{Tip.objects.get().pk}/")

    page.reload()
    page.get_by_role("link", name="Actividad nueva").click()
    assert MARKER in page.content()
    page.fill("#text", "Gracias por avisar")
    page.get_by_role("button", name="Enviar respuesta").click()
    page.wait_for_load_state()
    assert "Gracias por avisar" in page.content()
    assert Entry.objects.filter(kind="reply", author=user).count() == 1
