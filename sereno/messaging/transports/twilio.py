"""Twilio SMS and WhatsApp.

Inbound is a form POST signed with `X-Twilio-Signature` (HMAC-SHA1 of the full URL and the
sorted POST parameters with the account's auth token): checked with twilio's own
`RequestValidator` against the URL Twilio called, which behind a proxy is SERENO_PUBLIC_URL +
path. We answer with an empty TwiML `<Response/>`; replies go through the outbox.

Outbound is `POST /2010-04-01/Accounts/{sid}/Messages.json` with a `StatusCallback` pointing
at our `status` endpoint, carrying our row's uuid so that a callback arriving before the
sender has stored Twilio's id still finds its row.
"""

from django.http import HttpResponse
from twilio.request_validator import RequestValidator

from sereno.lib.errors import InvalidInput
from sereno.messaging.channels import hook_url, request_public_url
from sereno.messaging.transports.base import (
    AuthenticationFailed,
    Incoming,
    PermanentError,
    Sent,
    StatusUpdate,
    Transport,
)
from sereno.messaging.transports.http import HTTPClientMixin, raise_for_status

API_BASE = "https://api.twilio.com"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# MessageStatus -> our delivery status. queued/accepted/sending/sent: on its way.
STATUSES = {
    "accepted": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
}
# Twilio error codes worth retrying: 20429 too many requests, 30001 queue overflow,
# 20500/20503 internal errors.
RETRYABLE_CODES = {"20429", "30001", "20500", "20503"}


class TwilioSMSTransport(HTTPClientMixin, Transport):
    kind = "twilio_sms"
    scheme = "tel"
    is_sms = True
    config_fields = (
        "account_sid",
        "auth_token",
        "from_number",
        "messaging_service_sid",
        "api_base",
    )
    secret_fields = ("auth_token",)
    required_fields = ("account_sid", "auth_token")
    address_prefix = ""

    # ---- inbound -------------------------------------------------------------------------
    def authenticate(self, request, endpoint: str) -> None:
        signature = request.headers.get("X-Twilio-Signature", "")
        if request.method != "POST":
            raise AuthenticationFailed("not a POST")
        if not signature:
            raise AuthenticationFailed("no signature")
        token = self.config.get("auth_token", "")
        if not token:
            raise AuthenticationFailed("channel has no auth token")
        # RequestValidator compares in constant time; it tries the URL with and without port.
        if not RequestValidator(token).validate(
            request_public_url(request), request.POST, signature
        ):
            raise AuthenticationFailed("bad signature")

    def parse(self, request) -> list[Incoming]:
        data = request.POST
        sid = data.get("MessageSid") or data.get("SmsMessageSid") or ""
        sender = data.get("From", "")
        if not sid or not sender:
            raise InvalidInput("MessageSid and From are required")
        attachments = [
            {"url": data.get(f"MediaUrl{i}", ""), "type": data.get(f"MediaContentType{i}", "")}
            for i in range(_int(data.get("NumMedia")))
        ]
        return [Incoming(external_id=sid, sender=sender, text=data.get("Body", ""),
                         attachments=attachments)]  # fmt: skip

    def parse_status(self, request) -> list[StatusUpdate]:
        data = request.POST
        status = STATUSES.get((data.get("MessageStatus") or data.get("SmsStatus") or "").lower())
        if status is None:
            return []
        return [
            StatusUpdate(
                status=status,
                message_uuid=request.GET.get("m", ""),
                provider_id=data.get("MessageSid", ""),
                code=data.get("ErrorCode", "") or "",
                detail=(data.get("MessageStatus") or "").lower(),
            )
        ]

    def respond(self, request, endpoint: str, stored: list) -> HttpResponse:
        return HttpResponse(EMPTY_TWIML, content_type="text/xml; charset=utf-8")

    # ---- outbound ------------------------------------------------------------------------
    def _address(self, number: str) -> str:
        number = number.strip()
        if self.address_prefix and not number.startswith(self.address_prefix):
            return self.address_prefix + number
        return number

    def send(self, message, *, to: str) -> Sent:
        sid = self.config.get("account_sid", "")
        token = self.config.get("auth_token", "")
        if not sid or not token:
            raise PermanentError("channel not configured", code="config")
        data = {"To": self._address(to), "Body": message.text}
        if self.config.get("messaging_service_sid"):
            data["MessagingServiceSid"] = self.config["messaging_service_sid"]
        elif self.config.get("from_number") or self.channel.address:
            data["From"] = self._address(self.config.get("from_number") or self.channel.address)
        else:
            raise PermanentError("channel has no sender number", code="config")
        callback = hook_url(self.channel, "status")
        if callback.startswith("http"):
            data["StatusCallback"] = f"{callback}?m={message.uuid}"
        base = (self.config.get("api_base") or API_BASE).rstrip("/")
        response = self.request(
            "POST", f"{base}/2010-04-01/Accounts/{sid}/Messages.json", data=data, auth=(sid, token)
        )
        body = _json(response)
        raise_for_status(
            response, code=str(body.get("code") or ""), retryable_codes=RETRYABLE_CODES
        )
        provider_id = body.get("sid", "")
        if not provider_id:
            raise PermanentError("no message sid in the answer", code="answer")
        return Sent(provider_id=provider_id)


class TwilioWhatsAppTransport(TwilioSMSTransport):
    """The same API; addresses are "whatsapp:+504…" and texts are not SMS segments."""

    kind = "twilio_whatsapp"
    is_sms = False
    address_prefix = "whatsapp:"


def _int(value) -> int:
    try:
        return max(0, min(int(value or 0), 10))
    except ValueError:
        return 0


def _json(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
