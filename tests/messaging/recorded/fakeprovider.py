"""A provider's HTTP API on 127.0.0.1 for tests: records every request and answers from a
script of (status, JSON body, headers) — the provider's own documented answers."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

HERE = Path(__file__).parent


def recorded(name: str) -> str:
    return (HERE / name).read_text(encoding="utf-8")


def recorded_json(name: str):
    return json.loads(recorded(name))


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class FakeProvider:
    requests: list = field(default_factory=list)
    answers: list = field(default_factory=list)  # (status, body, headers), used in order
    default: tuple = (200, {}, {})
    url: str = ""

    def answer(self, status: int, body, headers: dict | None = None) -> None:
        self.answers.append((status, body, headers or {}))


def start() -> tuple[FakeProvider, ThreadingHTTPServer]:
    fake = FakeProvider()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with lock:
                fake.requests.append(Request("POST", self.path, dict(self.headers), body))
                status, payload, headers = fake.answers.pop(0) if fake.answers else fake.default
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


def make_channel(kind: str, config: dict, *, enabled: bool = True, address: str = ""):
    from sereno.messaging.models import Channel

    channel = Channel(kind=kind, name=f"{kind} test", address=address, enabled=enabled)
    channel.set_config(config)
    channel.save()
    return channel


def outbound(channel, *, to: str = "+50499887766", scheme: str = "tel", text: str = "Gracias"):
    """A queued outbox row to `to` on `channel`, as a conversation would write it."""
    from sereno.messaging import outbox
    from sereno.messaging.contacts import contact_for

    contact = contact_for(scheme=scheme, raw=to, channel=channel)
    return outbox.enqueue(contact=contact, text=text, cause="test", channel=channel)
