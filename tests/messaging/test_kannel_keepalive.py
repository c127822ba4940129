"""The Kannel transport's sendsms client: one keep-alive connection per thread, a connection
the gateway closed while idle noticed and opened again, never a request sent twice.
(Against a real Kannel: tests/messaging/kannel/.)"""

import socket
import threading
import time

import pytest

from sereno.messaging.transports.kannel import KeepAlive

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures clear the cache (a table)


class Gateway:
    """A minimal HTTP/1.1 server: answers each POST with 202 and, when `close_after` is set,
    closes the connection after that many answers without saying so (as smsbox does when a
    keep-alive connection has been idle too long)."""

    def __init__(self, close_after: int | None = None):
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        answered = 0
        with conn, conn.makefile("rb") as reader:
            while True:
                line = reader.readline()
                if not line:
                    return
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                self.requests.append(reader.read(length))
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n0:")
                answered += 1
                if self.close_after and answered >= self.close_after:
                    return

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cgi-bin/sendsms"

    def stop(self):
        self.sock.close()


@pytest.fixture
def gateway():
    server = Gateway()
    yield server
    server.stop()


def test_one_thread_reuses_its_connection(gateway):
    client = KeepAlive(timeout=5)
    for n in range(5):
        assert client.post(gateway.url(), f"hola {n}".encode(), {}) == (202, b"0:")
    assert gateway.connections == 1
    assert gateway.requests == [f"hola {n}".encode() for n in range(5)]
    client.close()


def test_each_thread_has_its_own_connection(gateway):
    client = KeepAlive(timeout=5)

    def send():
        for _ in range(3):
            client.post(gateway.url(), b"x", {})

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gateway.connections == 4 and len(gateway.requests) == 12
    client.close()


def test_a_connection_closed_while_idle_is_opened_again_and_nothing_is_sent_twice():
    gateway = Gateway(close_after=1)
    client = KeepAlive(timeout=5)
    try:
        for n in range(3):
            time.sleep(0.05)  # the gateway has closed the idle connection by now
            assert client.post(gateway.url(), f"m{n}".encode(), {})[0] == 202
        assert gateway.requests == [b"m0", b"m1", b"m2"]  # each once
        assert gateway.connections == 3
    finally:
        client.close()
        gateway.stop()


def test_a_gateway_that_is_not_listening_is_an_error_to_retry():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = KeepAlive(timeout=2)
    with pytest.raises(OSError):
        client.post(f"http://127.0.0.1:{port}/cgi-bin/sendsms", b"x", {})
