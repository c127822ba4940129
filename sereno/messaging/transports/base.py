"""The one small interface every channel implements.

Inbound: the webhook view (`messaging.views.hook`) finds the channel by the UUID in its URL and
calls `handle(request, endpoint)`. The default `handle` authenticates, parses the request into
`Incoming` messages or `StatusUpdate`s, hands them to the services, and answers with
`respond`. A transport whose protocol does not fit (SMSSync's polling) overrides `handle`.

Outbound: a sender claims outbox rows and calls `send(message, to=address)`; the transport
raises `RetryableError` (try again later: timeouts, 5xx, throttling) or `PermanentError`
(never retry: bad number, refused credentials).
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from django.http import HttpRequest, HttpResponse


class TransportError(Exception):
    """A send failed. `detail` must never contain the recipient's address or the text."""

    def __init__(self, detail: str = "", *, code: str = "", retry_after: float | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.retry_after = retry_after


class RetryableError(TransportError):
    """Try again later (network error, timeout, 429, 5xx)."""


class PermanentError(TransportError):
    """Never retry (invalid number, refused by the provider, blocked)."""


class AuthenticationFailed(Exception):
    """The inbound request is not from the provider (bad signature, secret or token)."""


@dataclass(frozen=True)
class Incoming:
    """One inbound message, normalised."""

    external_id: str  # the provider's own id: idempotency key
    sender: str  # the address as the provider gives it (normalised by the services)
    text: str
    received_at: datetime | None = None
    attachments: list = field(default_factory=list)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report. Identifies our row by its uuid or the provider's id."""

    status: str  # "sent" | "delivered" | "failed"
    message_uuid: str = ""
    provider_id: str = ""
    code: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Sent:
    provider_id: str = ""


class Transport:
    kind: ClassVar[str] = ""
    scheme: ClassVar[str] = "tel"  # address scheme of contacts: tel | telegram | mailto
    # Credentials and settings an admin enters (stored encrypted in Channel.config).
    config_fields: ClassVar[tuple[str, ...]] = ()
    # Whether texts are SMS (GSM-7/UCS-2 segments) or free text (chat, e-mail).
    is_sms: ClassVar[bool] = True

    def __init__(self, channel):
        self.channel = channel
        self.config = channel.config

    # ---- inbound -------------------------------------------------------------------------
    def handle(self, request: HttpRequest, endpoint: str) -> HttpResponse:
        from sereno.messaging import outbox, services

        self.authenticate(request, endpoint)
        if endpoint == "status":
            for update in self.parse_status(request):
                outbox.status_record(channel=self.channel, update=update)
            return self.respond(request, endpoint, [])
        stored = [
            services.inbound_receive(channel=self.channel, incoming=incoming)[0]
            for incoming in self.parse(request)
        ]
        return self.respond(request, endpoint, stored)

    def authenticate(self, request: HttpRequest, endpoint: str) -> None:
        """Raise AuthenticationFailed unless the request comes from the provider. Compare
        secrets with hmac.compare_digest."""
        raise NotImplementedError

    def parse(self, request: HttpRequest) -> list[Incoming]:
        raise NotImplementedError

    def parse_status(self, request: HttpRequest) -> list[StatusUpdate]:
        return []

    def respond(self, request: HttpRequest, endpoint: str, stored: list) -> HttpResponse:
        return HttpResponse(status=200)

    # ---- outbound ------------------------------------------------------------------------
    def send(self, message, *, to: str) -> Sent:
        """Send one outbox row to the decrypted address `to`."""
        raise NotImplementedError
