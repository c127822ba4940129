"""Proof of work with JavaScript on: our Argon2id in the browser matches libsodium, the worker's
answer is accepted by the server, and it earns the looser global limit."""

import pytest
from nacl import pwhash
from playwright.sync_api import expect

from sereno.tips import tokens
from tests.tips.conftest import MARKER, submit


@pytest.fixture
def pow_channel(transactional_db):
    from sereno.tips.models import Channel, Question

    channel = Channel.objects.create(slug="corrupcion", name="Corrupción")
    Question.objects.create(channel=channel, kind="text", label="¿Qué pasó?", required=True)
    return channel


def _load_worker_functions(page, live_server):
    page.goto(live_server.url + "/tips/")
    page.add_script_tag(url=live_server.url + "/static/tips/pow-worker.js")


@pytest.mark.parametrize(
    ("password", "passes", "mem_kib"),
    [("abc:0", 1, 1024), ("clave", 2, 64), ("x" * 200, 3, 256)],
)
def test_javascript_argon2id_matches_libsodium(
    page, live_server, pow_channel, settings, password, passes, mem_kib
):
    settings.WHITENOISE_USE_FINDERS = True
    _load_worker_functions(page, live_server)
    salt = "sereno-tips-pow!"
    ours = page.evaluate(
        """([pw, salt, t, m]) => Array.from(
            argon2id(new TextEncoder().encode(pw), new TextEncoder().encode(salt), t, m, 32)
        ).map(b => b.toString(16).padStart(2, "0")).join("")""",
        [password, salt, passes, mem_kib],
    )
    expected = pwhash.argon2id.kdf(
        32, password.encode(), salt.encode(), opslimit=passes, memlimit=mem_kib * 1024
    ).hex()
    assert ours == expected


def test_the_form_sends_a_valid_proof_and_gets_the_looser_limit(
    page, live_server, pow_channel, settings, client
):
    settings.TIPS_POW_BITS = 4
    settings.TIPS_RATE_SUBMIT_GLOBAL = "1/3600"
    settings.TIPS_RATE_SUBMIT_GLOBAL_POW = "50/3600"
    assert submit(client, pow_channel).status_code == 201  # uses up the no-proof budget
    assert submit(client, pow_channel).status_code == 429

    page.goto(live_server.url + "/tips/corrupcion/")
    page.get_by_label("¿Qué pasó?").fill(MARKER)
    # The worker runs while the source writes (no string evaluation: the page's CSP forbids it).
    expect(page.locator("input[name=pow]")).not_to_have_value("", timeout=60_000)
    answer = page.locator("input[name=pow]").input_value()
    token = page.locator("input[name=token]").input_value()
    payload = tokens.check_form_token(token, purpose="submit:corrupcion")
    assert tokens.pow_valid(payload, answer)
    page.get_by_role("button", name="Enviar la denuncia").click()
    assert page.locator("ol.receipt li").count() == 8
