"""WhatsApp Cloud API (Meta's Graph API).

Meta first checks the webhook with a GET (`hub.mode=subscribe`, `hub.verify_token`,
`hub.challenge`): we echo the challenge when the verify token matches. Events are POSTed JSON
signed with `X-Hub-Signature-256: sha256=<HMAC-SHA256(app secret, raw body)>`; one POST can
carry messages and delivery statuses (`entry[].changes[].value.messages[]` / `.statuses[]`),
so both are handled on the one URL. Outbound is `POST /{phone-number-id}/messages`.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.http import HttpResponse

from sereno.lib.errors import InvalidInput
from sereno.messaging.channels import same_secret
from sereno.messaging.transports.base import (
    AuthenticationFailed,
    Incoming,
    PermanentError,
    Sent,
    StatusUpdate,
    Transport,
)
from sereno.messaging.transports.http import HTTPClientMixin, raise_for_status

API_BASE = "https://graph.facebook.com/v21.0"
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "delivered", "failed": "failed"}
# Graph error codes that say "later": throttling (4, 80007, 130429, 131048, 131056) and
# temporary service errors (1, 2, 131000, 131016, 133004).
RETRYABLE_CODES = {"1", "2", "4", "80007", "130429", "131000", "131016", "131048", "131056",
                   "133004"}  # fmt: skip


class WhatsAppTransport(HTTPClientMixin, Transport):
    kind = "whatsapp"
    scheme = "tel"
    is_sms = False
    config_fields = ("phone_number_id", "access_token", "app_secret", "verify_token", "api_base")
    secret_fields = ("access_token", "app_secret")
    # The verify token only guards the subscription handshake, and the admin must paste it
    # into Meta's dashboard: shown, and made up when left blank.
    generated_fields = ("verify_token",)
    required_fields = ("phone_number_id", "access_token", "app_secret", "verify_token")

    # ---- inbound -------------------------------------------------------------------------
    def handle(self, request, endpoint: str) -> HttpResponse:
        from sereno.messaging import outbox, services

        if request.method == "GET":
            return self.verify_subscription(request)
        self.authenticate(request, endpoint)
        messages, statuses = self.read(request)
        for update in statuses:
            outbox.status_record(channel=self.channel, update=update)
        for incoming in messages:
            services.inbound_receive(channel=self.channel, incoming=incoming)
        return HttpResponse(status=200)

    def verify_subscription(self, request) -> HttpResponse:
        params = request.GET
        if params.get("hub.mode") != "subscribe" or not same_secret(
            params.get("hub.verify_token", ""), self.config.get("verify_token", "")
        ):
            raise AuthenticationFailed("bad verify token")
        return HttpResponse(params.get("hub.challenge", ""), content_type="text/plain")

    def authenticate(self, request, endpoint: str) -> None:
        header = request.headers.get("X-Hub-Signature-256", "")
        secret = self.config.get("app_secret", "")
        if not header.startswith("sha256="):
            raise AuthenticationFailed("no signature")
        if not secret:
            raise AuthenticationFailed("channel has no app secret")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not same_secret(header[len("sha256=") :].lower(), expected):
            raise AuthenticationFailed("bad signature")

    def read(self, request) -> tuple[list[Incoming], list[StatusUpdate]]:
        try:
            payload = json.loads(request.body)
        except ValueError as exc:
            raise InvalidInput("body is not JSON") from exc
        messages, statuses = [], []
        for entry in _list(payload, "entry"):
            for change in _list(entry, "changes"):
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                messages += [m for m in map(_incoming, _list(value, "messages")) if m]
                statuses += [s for s in map(_status, _list(value, "statuses")) if s]
        return messages, statuses

    def parse(self, request) -> list[Incoming]:
        return self.read(request)[0]

    def parse_status(self, request) -> list[StatusUpdate]:
        return self.read(request)[1]

    # ---- outbound ------------------------------------------------------------------------
    def send(self, message, *, to: str) -> Sent:
        number_id = self.config.get("phone_number_id", "")
        token = self.config.get("access_token", "")
        if not number_id or not token:
            raise PermanentError("channel not configured", code="config")
        base = (self.config.get("api_base") or API_BASE).rstrip("/")
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to.lstrip("+"),
            "type": "text",
            "text": {"preview_url": False, "body": message.text},
        }
        response = self.request(
            "POST",
            f"{base}/{number_id}/messages",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        answer = _json(response)
        error = answer.get("error") if isinstance(answer.get("error"), dict) else {}
        raise_for_status(
            response, code=str(error.get("code") or ""), retryable_codes=RETRYABLE_CODES
        )
        sent = [m.get("id") for m in _list(answer, "messages") if isinstance(m, dict)]
        if not sent or not sent[0]:
            raise PermanentError("no message id in the answer", code="answer")
        return Sent(provider_id=sent[0])


def _list(obj, key: str) -> list:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _incoming(message) -> Incoming | None:
    """Text (and the text of a tapped button) becomes a message; other kinds are skipped."""
    if not isinstance(message, dict) or not message.get("id") or not message.get("from"):
        return None
    kind = message.get("type")
    if kind == "text":
        text = (message.get("text") or {}).get("body", "")
    elif kind == "button":
        text = (message.get("button") or {}).get("text", "")
    elif kind == "interactive":
        reply = message.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        text = chosen.get("title", "")
    else:
        return None
    received = None
    try:
        received = datetime.fromtimestamp(int(message.get("timestamp")), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        pass
    return Incoming(
        external_id=str(message["id"]), sender=str(message["from"]), text=str(text),
        received_at=received,
    )  # fmt: skip


def _status(status) -> StatusUpdate | None:
    if not isinstance(status, dict) or not status.get("id"):
        return None
    ours = STATUSES.get(str(status.get("status", "")).lower())
    if ours is None:
        return None
    errors = [e for e in status.get("errors") or [] if isinstance(e, dict)]
    code = str(errors[0].get("code", "")) if errors else ""
    detail = str(errors[0].get("title", "")) if errors else str(status.get("status"))
    return StatusUpdate(status=ours, provider_id=str(status["id"]), code=code, detail=detail)
