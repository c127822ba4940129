"""Fixtures for tests through a real Kannel (bearerbox, smsbox, fakesmsc).

- `gateway` (session): Kannel on free ports whose sms-service POSTs to `sereno_server`,
  the channel uuid and secret fixed so one gateway serves every test.
- `sereno_server` (session): Sereno in this process on a free port (Django's live server
  thread), so that smsbox has a real HTTP server to call and tests see its writes
  (`transactional_db`). Requests are served one at a time under `sereno_server.lock`; tests
  that touch the database while Kannel may be calling (the sender, polling queries) take the
  same lock, because on SQLite the server thread shares the test's in-memory connection.
- `kannel_channel`: the enabled channel those URLs point at.
- `phone`: the simulated phones: `phone.send(sender, text)`, `phone.received()`,
  `phone.wait_for(n)` — only what arrived during this test.
- `send_outbox()`: drain the outbox once through the real sender (`messaging.sender`).

Under CI=true a missing Kannel is a failure (tests/conftest.py turns skips into failures).
"""

import threading
import uuid

import pytest

from tests.messaging.kannel.harness import Gateway, available, wait_until

CHANNEL_UUID = uuid.UUID("6b1f3c1e-0d6a-4c55-9d1e-4b4b7a0c2a11")
SECRET = "kannel-test-secret-Zq3v8Rw1"
SHORT_CODE = "1234"
SENDSMS_USER, SENDSMS_PASSWORD = "sereno", "sendsms-password"


@pytest.fixture(scope="session")
def kannel_installed():
    if not available():
        pytest.skip("Kannel is not installed: apt-get install kannel kannel-extras")


class _LockedApp:
    """One request at a time; 503 while a test is tearing its database down."""

    def __init__(self, app, server):
        self.app = app
        self.server = server

    def __call__(self, environ, start_response):
        with self.server.lock:
            if self.server.paused:
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            self.server.requests += 1
            return list(self.app(environ, start_response))


class SerenoServer:
    def __init__(self):
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.db import connections
        from django.test.testcases import LiveServerThread

        self.lock = threading.RLock()
        self.paused = False
        self.requests = 0
        override = {
            conn.alias: conn
            for conn in connections.all()
            if conn.vendor == "sqlite" and conn.is_in_memory_db()
        }
        self.thread = LiveServerThread(
            "127.0.0.1",
            lambda app: _LockedApp(StaticFilesHandler(app), self),
            connections_override=override,
            port=0,
        )
        self.thread.daemon = True

    def start(self) -> None:
        for conn in self.thread.connections_override.values():
            conn.inc_thread_sharing()
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            raise self.thread.error

    def stop(self) -> None:
        self.thread.terminate()
        for conn in self.thread.connections_override.values():
            conn.dec_thread_sharing()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.thread.port}"

    def hook_url(self, *, secret: str = SECRET, method: str = "post") -> str:
        base = f"http://kannel:{secret}@127.0.0.1:{self.thread.port}/hooks/kannel/{CHANNEL_UUID}/"
        if method == "post":
            return base + "?id=%I&time=%T"
        return base + "?id=%I&from=%p&to=%P&text=%a&time=%T&coding=%c&charset=%C&smsc=%i"


@pytest.fixture(scope="session")
def sereno_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = SerenoServer()
        server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gateway(kannel_installed, sereno_server, tmp_path_factory):
    gateway = Gateway(
        tmp_path_factory.mktemp("kannel"),
        service_url=sereno_server.hook_url(),
        username=SENDSMS_USER,
        password=SENDSMS_PASSWORD,
        http_retries=3,
        http_retry_delay=1,
    )
    gateway.start()
    yield gateway
    gateway.stop()


def make_channel(*, gateway, server, **overrides):
    from sereno.messaging.models import Channel

    channel = Channel(
        uuid=CHANNEL_UUID,
        kind="kannel",
        name="Kannel",
        address=SHORT_CODE,
        enabled=True,
        rate_per_second=overrides.pop("rate_per_second", 500.0),
        burst=overrides.pop("burst", 100),
    )
    config = {
        "sendsms_url": gateway.sendsms_url,
        "username": SENDSMS_USER,
        "password": SENDSMS_PASSWORD,
        "secret": SECRET,
        "callback_url": server.url,
    }
    config.update(overrides)
    channel.set_config(config)
    channel.save()
    return channel


@pytest.fixture
def _server_quiet_teardown(sereno_server):
    """Set up before the database: its teardown runs after the database's flush, and lets
    Kannel's requests in again."""
    sereno_server.paused = False
    yield
    sereno_server.paused = False


def seed_taxonomy() -> None:
    """The categories as after `migrate`: these tests are transactional, and each one's flush
    removes them (as the browser tests do)."""
    import importlib

    from django.apps import apps

    from sereno.reports import services

    importlib.import_module("sereno.reports.migrations.0002_seed_categories").seed(apps, None)
    services._TAXONOMY = (0.0, {})  # intake's per-process cache must not keep removed rows


@pytest.fixture(scope="package", autouse=True)
def _leave_the_taxonomy_seeded(django_db_blocker):
    """Put the categories back for the tests that run after these."""
    yield
    with django_db_blocker.unblock():
        seed_taxonomy()


@pytest.fixture
def kannel_channel(_server_quiet_teardown, transactional_db, gateway, sereno_server):
    seed_taxonomy()
    channel = make_channel(gateway=gateway, server=sereno_server)
    yield channel
    # Late delivery reports or retries must not hit the database while it is flushed.
    with sereno_server.lock:
        sereno_server.paused = True


class PhoneView:
    """The simulated phones, as seen by one test (earlier tests' messages left out)."""

    def __init__(self, gateway):
        self.gateway = gateway
        self._phone = gateway.phone
        self._start = len(self._phone.received())

    def send(self, sender: str, text: str, *, to: str = SHORT_CODE, kind: str | None = None):
        self._phone.send(sender, to, text, kind=kind)

    def send_many(self, messages: list[tuple[str, str]], *, to: str = SHORT_CODE) -> None:
        self._phone.send_lines([self._phone.line(sender, to, text) for sender, text in messages])

    def received(self, to: str | None = None):
        messages = self._phone.received()[self._start :]
        return [m for m in messages if to is None or m.receiver == to]

    def wait_for(self, count: int, *, to: str | None = None, timeout: float = 30):
        return wait_until(
            lambda: len(r := self.received(to)) >= count and r,
            timeout=timeout,
            what=f"{count} messages on the phone{' to ' + to if to else ''}",
        )


@pytest.fixture
def phone(gateway):
    return PhoneView(gateway)


@pytest.fixture
def send_outbox(sereno_server):
    """Run the real sender until the outbox has nothing due (under the server's lock)."""

    def run(channel, *, threads: int = 4):
        from sereno.messaging.sender import ChannelSender

        with sereno_server.lock:
            return ChannelSender(channel, threads=threads, poll_seconds=0.05).run(once=True)

    return run


def db_wait(server, predicate, *, timeout: float = 40, what: str = "the database"):
    """Poll the database (under the server's lock) until `predicate()` is true."""

    def check():
        with server.lock:
            return predicate()

    return wait_until(check, timeout=timeout, interval=0.1, what=what)
