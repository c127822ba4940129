"""SMS through Kannel, the open-source gateway an operator's SMPP link plugs into.

Inbound: Kannel's smsbox calls our webhook for every message from a phone, through an
`sms-service` (docs/kannel.md has the whole configuration). Preferred, so that the text and
the number travel in the body and headers and never in a URL (access logs keep URLs):

    post-url = "http://kannel:SECRET@HOST/hooks/kannel/UUID/?id=%I&time=%T"
    send-sender = true

or, if a POST is not possible, every field in the query string:

    get-url = "http://kannel:SECRET@HOST/hooks/kannel/UUID/?id=%I&from=%p&to=%P&text=%a"
              "&time=%T&coding=%c&charset=%C&smsc=%i"        (one string in kannel.conf)

with `mo-recode = true` (UCS-2 texts arrive as UTF-8; without it UTF-16BE is decoded too),
`omit-empty = true` (our answer is empty: replies go through the outbox),
`http-request-retry` (a request that fails is tried again; `%I`, Kannel's own message id, makes
the retry harmless) and `max-pending-requests = 64` (Kannel's 512 opens as many connections
under a burst, for more of its own CPU; docs/kannel.md section 4). The shared secret is the
password of HTTP Basic authentication (Kannel turns `user:password@` in the URL into Basic
auth), or a `secret` query parameter; both are compared in constant time.

Outbound: `POST /cgi-bin/sendsms` on smsbox's sendsms port: the UTF-8 text is the body and
the parameters are `X-Kannel-*` headers (a GET would put the number, the text and the
password in a URL). A row that needs UCS-2 goes with coding 2 and charset UTF-8 (both are
needed: the charset alone sends 7-bit, coding 2 alone garbles). Every message asks for the
delivery reports that change its status (`dlr-mask` 19, the channel's `dlr_mask` may say
otherwise) at a `dlr-url` carrying our row's uuid and the event number `%d`: 1 delivered,
2 failed, 16 rejected by the SMSC (and with 31 also 4 buffered by the SMSC, 8 accepted by the
SMSC, recorded as events of a row already sent).
"""

import base64
import hmac
import http.client
import math
import select
import threading
import urllib.parse
from datetime import UTC, datetime
from functools import cached_property

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone

from sereno.lib.errors import InvalidInput
from sereno.messaging.transports.base import (
    AuthenticationFailed,
    Incoming,
    PermanentError,
    RetryableError,
    Sent,
    StatusUpdate,
    Transport,
)

TIMEOUT_SECONDS = 15.0  # connecting, and waiting for smsbox's answer
# A DLR's event number (`%d`) -> our delivery status.
DLR_EVENTS = {
    "1": "delivered",  # delivered to the phone
    "2": "failed",  # the phone could not be reached
    "4": "sent",  # buffered by the SMSC (on its way)
    "8": "sent",  # accepted by the SMSC
    "16": "failed",  # rejected by the SMSC
}
DLR_ALL = 31  # every event above
# Asked for by default: the reports that move a row (delivered, failed, rejected by the SMSC).
# "Buffered" and "accepted by the SMSC" find the row already sent (sendsms accepted it) and
# would only add an event, for a request to Sereno per message: a quarter of a conversational
# message's CPU (docs/benchmarks.md). A channel's `dlr_mask` 31 asks for them too.
DLR_MASK = 1 | 2 | 16
# Kannel's UCS-2 texts arrive in this charset when smsbox has no `mo-recode`.
UTF16_CHARSETS = {"utf-16be", "utf-16", "ucs-2", "ucs2", "unicodebig"}


class KannelTransport(Transport):
    kind = "kannel"
    scheme = "tel"
    is_sms = True
    # sendsms_url: smsbox's sendsms address, e.g. http://127.0.0.1:13013/cgi-bin/sendsms.
    # username/password: a `sendsms-user` group. secret: what Kannel presents when it calls
    # us (generated). callback_url: how Kannel reaches Sereno for delivery reports (defaults to
    # SERENO_PUBLIC_URL). smsc_id: route outbound through one `smsc` group (optional).
    # dlr_mask: which delivery reports to ask for (default 19: delivered, failed, rejected;
    # 31 all, 0 none: Kannel's own throughput is about twice as high without them, see
    # docs/kannel.md).
    config_fields = (
        "sendsms_url",
        "username",
        "password",
        "secret",
        "callback_url",
        "smsc_id",
        "dlr_mask",
    )
    secret_fields = ("password", "secret")
    required_fields = ("sendsms_url", "username", "password", "secret")
    generated_fields = ("secret",)

    def __init__(self, channel):
        super().__init__(channel)
        self._connections = KeepAlive()

    # ---- inbound -------------------------------------------------------------------------
    def authenticate(self, request: HttpRequest, endpoint: str) -> None:
        expected = str(self.config.get("secret") or "")
        if not expected:
            raise AuthenticationFailed("channel has no secret")
        given = _basic_password(request.headers.get("Authorization", ""))
        if given is None:
            given = request.GET.get("secret", "")
        if not given:
            raise AuthenticationFailed("no secret")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise AuthenticationFailed("bad secret")

    def parse(self, request: HttpRequest) -> list[Incoming]:
        query = _raw_query(request)
        external_id = _text(query.get("id", b""))
        if request.method == "POST":
            # post-url: the body is the text, in the charset of its Content-Type.
            charset = request.content_type and request.content_params.get("charset", "")
            text = _decode(request.body, charset or "utf-8")
            sender = request.headers.get("X-Kannel-From", "") or _text(query.get("from", b""))
            received = request.headers.get("X-Kannel-Time", "")
        else:
            charset = _text(query.get("charset", b"")) or "utf-8"
            text = _decode(query.get("text", b""), charset)
            sender = _text(query.get("from", b""))
            received = ""
        if not external_id or not sender:
            raise InvalidInput("Kannel must send id (%I) and the sender (%p or send-sender)")
        return [
            Incoming(
                external_id=external_id[:200],
                sender=sender,
                text=text,
                received_at=_when(_text(query.get("time", b"")), received),
            )
        ]

    def parse_status(self, request: HttpRequest) -> list[StatusUpdate]:
        event = request.GET.get("event", "")
        status = DLR_EVENTS.get(event)
        message_uuid = request.GET.get("id", "")
        if status is None or not message_uuid:
            return []
        return [
            StatusUpdate(
                status=status,
                message_uuid=message_uuid,
                code=f"dlr-{event}",
                detail=f"Kannel delivery report {event}",
            )
        ]

    def respond(self, request: HttpRequest, endpoint: str, stored: list) -> HttpResponse:
        # Empty: with `omit-empty = true` Kannel sends nothing back; replies go through the
        # outbox (so that they are retried, rate-limited and have delivery reports).
        return HttpResponse(b"", status=200, content_type="text/plain; charset=utf-8")

    # ---- outbound ------------------------------------------------------------------------
    def close(self) -> None:
        self._connections.close()

    def status_url(self, message) -> str:
        """Where Kannel reports delivery of `message`: our status endpoint, the secret as Basic
        authentication, our row's uuid and Kannel's event number."""
        return f"{self._status_endpoint}?id={message.uuid}&event=%d"

    @cached_property
    def _status_endpoint(self) -> str:
        """The part of every status URL that is the channel's (built once per transport, not
        per message: a transport is rebuilt when its channel's settings change)."""
        base = str(self.config.get("callback_url") or getattr(settings, "PUBLIC_URL", ""))
        base = base.rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise PermanentError("channel has no callback URL for delivery reports", code="config")
        path = reverse("messaging:hook-endpoint", args=[self.kind, self.channel.uuid, "status"])
        scheme, _, rest = base.partition("://")
        secret = str(self.config.get("secret") or "")
        return f"{scheme}://kannel:{secret}@{rest}{path}"

    def dlr_mask(self) -> int:
        value = str(self.config.get("dlr_mask") or "").strip()
        if not value:
            return DLR_MASK
        try:
            return max(0, min(int(value), DLR_ALL))
        except ValueError:
            return DLR_MASK

    def send_headers(self, message, *, to: str) -> dict[str, str]:
        """sendsms by POST: the text is the body, everything else X-Kannel-* headers, so that
        no number, text or password is ever in a URL (URLs are what access logs keep)."""
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-Kannel-Username": str(self.config.get("username") or ""),
            "X-Kannel-Password": str(self.config.get("password") or ""),
            "X-Kannel-From": self.channel.address,
            "X-Kannel-To": to,
        }
        mask = self.dlr_mask()
        if mask:
            headers["X-Kannel-DLR-Mask"] = str(mask)
            headers["X-Kannel-DLR-Url"] = self.status_url(message)
        if message.encoding == "ucs2":
            # With the UTF-8 charset above: coding=2&charset=UTF-8 in GET terms.
            headers["X-Kannel-Coding"] = "2"
        if self.config.get("smsc_id"):
            headers["X-Kannel-SMSC"] = str(self.config["smsc_id"])
        if message.valid_until is not None:
            minutes = math.ceil((message.valid_until - timezone.now()).total_seconds() / 60)
            if minutes < 1:
                raise PermanentError("validity period over", code="expired")
            headers["X-Kannel-Validity"] = str(minutes)
        return headers

    def send(self, message, *, to: str) -> Sent:
        url = str(self.config.get("sendsms_url") or "")
        if not url or not self.config.get("username"):
            raise PermanentError("channel not configured", code="config")
        if not self.channel.address:
            raise PermanentError("channel has no sender number", code="config")
        headers = self.send_headers(message, to=to)
        try:
            status, data = self._connections.post(url, message.text.encode(), headers)
        except TimeoutError as exc:
            raise RetryableError("timeout", code="timeout") from exc
        except (OSError, http.client.HTTPException) as exc:
            # Only the type is kept: an exception's text may name the address.
            raise RetryableError(f"network error: {type(exc).__name__}", code="network") from exc
        # Kannel answers "0: Accepted for delivery" (202) or "3: Queued for later delivery"
        # (202, the SMSC is down and bearerbox stores it); no message id.
        if status < 300:
            return Sent(provider_id="")
        # The answer is Kannel's own short text ("Authorization failed for sendsms", "Sender
        # missing", "Message queue full"...): no address, no text of ours.
        answer = data.decode("utf-8", "replace").strip()[:100]
        detail = f"HTTP {status}: {answer}"
        if status in (408, 429) or status >= 500:
            raise RetryableError(detail, code=str(status))
        raise PermanentError(detail, code=str(status))


class KeepAlive:
    """sendsms over one keep-alive `http.client` connection per sender thread and address.

    sendsms is the hot path of every SMS: the standard library's client spends about 0.2 ms
    of CPU per request, urllib3's pool 0.35 and httpx 0.8 (docs/benchmarks.md). A connection
    smsbox has closed while idle is noticed before it is used (the socket reads as closed)
    and opened again; a request is never sent twice here (a failure is the outbox's retry).
    """

    def __init__(self, timeout: float = TIMEOUT_SECONDS):
        self.timeout = timeout
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.key != key:
            if conn is not None:
                conn.close()
            kind = (
                http.client.HTTPSConnection
                if parts.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = kind(parts.hostname or "", parts.port, timeout=self.timeout)
            self._local.conn, self._local.key = conn, key
        elif conn.sock is not None and _readable(conn.sock):
            conn.close()  # closed by smsbox while idle (or it sent what was not asked for)
        if conn.sock is None:  # (re)connects in request(): close() must find it
            with self._lock:
                self._open.add(conn)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()  # the next request opens it again
        return response.status, data

    def close(self) -> None:
        with self._lock:
            opened, self._open = self._open, set()
        for conn in opened:
            conn.close()


def _readable(sock) -> bool:
    """Whether an idle keep-alive socket has something to read: the peer closed it."""
    if hasattr(select, "poll"):  # any descriptor number (select() stops at 1024)
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _basic_password(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]


def _raw_query(request: HttpRequest) -> dict[str, bytes]:
    """The query string as bytes: without `mo-recode`, Kannel url-encodes UTF-16 text, which
    Django's UTF-8 decoding of request.GET would garble."""
    pairs = urllib.parse.parse_qsl(
        request.META.get("QUERY_STRING", ""), keep_blank_values=True, encoding="latin-1"
    )
    return {key: value.encode("latin-1") for key, value in pairs}


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace").strip()


def _decode(raw: bytes, charset: str) -> str:
    charset = (charset or "utf-8").strip().strip('"').lower()
    if charset in UTF16_CHARSETS:
        charset = "utf-16-be"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _when(unix: str, stamp: str) -> datetime | None:
    """%T (seconds since the epoch), else X-Kannel-Time ("2026-11-29 03:02:45", the
    gateway's local time: used only when it parses)."""
    if unix.isdigit():
        return datetime.fromtimestamp(int(unix), tz=UTC)
    try:
        return timezone.make_aware(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None
