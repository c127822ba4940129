"""Pages in a real browser: Debian's Chromium driven by Playwright, at a phone-sized viewport.

Never a downloaded browser (`playwright install` cannot reach the internet here): `.ci/run`
installs Debian's `chromium`. Every request a page makes is recorded, and a test fails if any
of them leaves this machine (in tests the tile server is a local address without tiles).

    def test_something(page, live_server):            # JavaScript on
        page.goto(live_server.url + "/")
    def test_plain(page_no_js, live_server): ...       # JavaScript off, as in Tor "Safest"
"""

import os
import shutil
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("SERENO_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
]  # fmt: skip

# Playwright's sync API runs an event loop in this thread; the ORM calls tests make around it
# are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield chromium
        chromium.close()


class Requests:
    """Every URL the browser asked for during a test."""

    def __init__(self):
        self.urls: list[str] = []

    def record(self, request) -> None:
        self.urls.append(request.url)

    def external(self) -> list[str]:
        out = []
        for url in self.urls:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about", "chrome-extension"):
                continue
            if (parts.hostname or "") not in LOCAL_HOSTS:
                out.append(url)
        return out


def _context(browser, *, javascript: bool, language: str = "es"):
    context = browser.new_context(
        java_script_enabled=javascript,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale=language,
        extra_http_headers={"Accept-Language": language},
        service_workers="allow",
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def requests_seen():
    return Requests()


@pytest.fixture
def browser_context(browser, requests_seen):
    context = _context(browser, javascript=True)
    context.on("request", requests_seen.record)
    yield context
    context.close()
    assert requests_seen.external() == [], "requests left this machine"


@pytest.fixture
def page(browser_context):
    return browser_context.new_page()


@pytest.fixture
def page_no_js(browser, requests_seen):
    context = _context(browser, javascript=False)
    context.on("request", requests_seen.record)
    page = context.new_page()
    yield page
    context.close()
    assert requests_seen.external() == [], "requests left this machine"


def _seed_taxonomy() -> None:
    import importlib

    from django.apps import apps

    from sereno.reports import services

    importlib.import_module("sereno.reports.migrations.0002_seed_categories").seed(apps, None)
    services._TAXONOMY = (0.0, {})  # intake's per-process cache must not keep removed rows


@pytest.fixture(autouse=True)
def taxonomy():
    """The seeded categories, as after `migrate`: browser tests are transactional, and each
    one's flush removes them."""
    _seed_taxonomy()
    yield


@pytest.fixture(scope="package", autouse=True)
def _leave_the_taxonomy_seeded(django_db_blocker):
    """Put the categories back for the tests that run after the browser tests."""
    yield
    with django_db_blocker.unblock():
        _seed_taxonomy()


@pytest.fixture(autouse=True)
def _no_tile_server(settings, live_server):
    """Map tiles from an address on this machine that has none (404): the pages must work
    without tiles, and no request may leave the machine."""
    settings.TILE_URL = live_server.url + "/no-tiles/{z}/{x}/{y}.png"


def _serve_one_request_at_a_time_on_in_memory_sqlite() -> None:
    """On SQLite the live server's threads share the test's one in-memory connection, so two
    requests at once (the page and its service worker sending the same report) interleave
    their transactions ("no such savepoint", then "database table is locked" for every later
    test). There, the application handles one request at a time (connections stay threaded,
    so keep-alive never blocks). PostgreSQL keeps concurrent requests."""
    import threading

    from django.conf import settings as django_settings
    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    if not django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        return

    lock = threading.RLock()

    class Serialised:
        def __init__(self, app):
            self.app = app  # the wrapped application, as tests that wrap it expect

        def __call__(self, environ, start_response):
            with lock:
                return list(self.app(environ, start_response))

    class OneRequestAtATime(ThreadedWSGIServer):
        def set_app(self, application):
            super().set_app(Serialised(application))

    LiveServerThread.server_class = OneRequestAtATime


_serve_one_request_at_a_time_on_in_memory_sqlite()
