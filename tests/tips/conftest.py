"""Tip-line fixtures: a channel and its questions, recipients with keys, a signed-in recipient."""

import re

import pytest

from tests.conftest import PASSWORD, make_user, staff_client

MARKER = "ZORRO-CONTRABANDO-7731"


@pytest.fixture(autouse=True)
def _cheap_argon2(settings):
    # The real cost is in conf.py; tests keep Argon2id but small (the timing test sets its own).
    settings.TIPS_ARGON2_OPS = 1
    settings.TIPS_ARGON2_MEM = 8 * 1024 * 1024
    settings.TIPS_POW_BITS = 2


@pytest.fixture
def channel(db):
    from sereno.tips.models import Channel, Question

    channel = Channel.objects.create(
        slug="corrupcion", name="Corrupción", name_en="Corruption",
        description="Sobornos, desvío de fondos", description_en="Bribes, embezzlement",
    )  # fmt: skip
    Question.objects.create(
        channel=channel, order=1, kind="text", label="¿Qué pasó?", label_en="What happened?",
        required=True,
    )  # fmt: skip
    Question.objects.create(
        channel=channel, order=2, kind="choice", label="Institución", label_en="Institution",
        choices="Alcaldía\nPolicía", choices_en="Town hall\nPolice",
    )  # fmt: skip
    Question.objects.create(channel=channel, order=3, kind="date", label="Fecha", label_en="Date")
    Question.objects.create(channel=channel, order=4, kind="place", label="Lugar", label_en="Place")
    Question.objects.create(channel=channel, order=5, kind="files", label="Pruebas")
    return channel


def make_recipient(username, channel=None, *, with_key=True):
    from sereno.tips import keys
    from sereno.tips.models import RecipientKey

    user = make_user(username, "tip_recipient")
    if with_key:
        recovery = keys.recipient_key_create(user=user, password=PASSWORD)
        RecipientKey.objects.filter(user=user).update(recovery_confirmed=True)
        user.recovery_key = recovery
    if channel is not None:
        channel.recipients.add(user)
    return user


@pytest.fixture
def recipient(channel):
    return make_recipient("rita", channel)


@pytest.fixture
def recipient_client(client, recipient):
    """A recipient signed in with TOTP whose tip key is unlocked for the session."""
    staff_client(client, recipient)
    response = client.post("/tips/inbox/unlock/", {"password": PASSWORD})
    assert response.status_code == 302
    return client


def form_token(client, path: str) -> str:
    html = client.get(path).content.decode()
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def question_ids(channel) -> dict[str, int]:
    return {q.kind: q.pk for q in channel.questions.all()}


def submit(client, channel, text=MARKER, files=(), meta=None, **extra):
    meta = meta or {}
    ids = question_ids(channel)
    data = {"token": form_token(client, f"/tips/{channel.slug}/"), f"q{ids['text']}": text}
    data.update(extra)
    if files:
        data["files"] = list(files)
    return client.post(f"/tips/{channel.slug}/", data, **meta)


def receipt_from(response) -> str:
    html = response.content.decode()
    block = re.search(r'<ol class="receipt"[^>]*>(.*?)</ol>', html, re.S).group(1)
    return " ".join(re.findall(r"<li>([^<]+)</li>", block))


def all_table_text() -> str:
    """Every row of every table, as text (what a dump of the database would show)."""
    from django.db import connection

    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from introspection)
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview | bytes | bytearray):
                        parts.append(bytes(value).decode("latin-1"))
                    else:
                        parts.append(str(value))
    return "\n".join(parts)


# --- browser -----------------------------------------------------------------------------------
# The page fixtures of tests/browser, with one Chromium: Playwright's sync API allows a single
# instance per thread, so when tests/browser's session browser is already running it is reused;
# otherwise this package starts its own and stops it before any other package needs one.
from tests.browser.conftest import (  # noqa: E402, F401
    browser_context,
    page,
    page_no_js,
    requests_seen,
)


@pytest.fixture(scope="package")
def browser():
    import gc
    import os
    import shutil

    from tests.browser import conftest as shared

    try:
        from playwright.sync_api import Browser
    except ImportError:
        pytest.skip("playwright is not installed")
    # type(), not isinstance(): the latter would wake lazy objects (request.user) left in memory.
    running = [o for o in gc.get_objects() if type(o) is Browser and o.is_connected()]
    if running:  # tests/browser's session browser
        yield running[0]
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    path = shared.CHROMIUM if os.path.exists(shared.CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.skip(f"Chromium is not installed at {shared.CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=shared.CHROMIUM_ARGS)
        yield chromium
        chromium.close()
