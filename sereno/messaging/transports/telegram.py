"""Telegram bot.

`set_webhook` registers our URL with a `secret_token` (made up by us, kept sealed); Telegram
then sends it in `X-Telegram-Bot-Api-Secret-Token` with every update, compared in constant
time. Private chats only: a contact is a chat id. A message is identified by chat id and
message id (stable across Telegram's retries). Outbound is `sendMessage`.
"""

import json
from datetime import UTC, datetime

from django.utils.translation import gettext as _

from sereno.lib.errors import InvalidInput
from sereno.messaging.channels import hook_url, same_secret
from sereno.messaging.transports.base import (
    AuthenticationFailed,
    Incoming,
    PermanentError,
    RetryableError,
    Sent,
    Transport,
)
from sereno.messaging.transports.http import HTTPClientMixin, raise_for_status

API_BASE = "https://api.telegram.org"


class TelegramTransport(HTTPClientMixin, Transport):
    kind = "telegram"
    scheme = "telegram"
    is_sms = False
    config_fields = ("bot_token", "secret_token", "api_base")
    secret_fields = ("bot_token", "secret_token")
    generated_fields = ("secret_token",)
    required_fields = ("bot_token", "secret_token")

    # ---- inbound -------------------------------------------------------------------------
    def authenticate(self, request, endpoint: str) -> None:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if request.method != "POST" or not given:
            raise AuthenticationFailed("no secret token")
        if not same_secret(given, self.config.get("secret_token", "")):
            raise AuthenticationFailed("bad secret token")

    def parse(self, request) -> list[Incoming]:
        try:
            update = json.loads(request.body)
        except ValueError as exc:
            raise InvalidInput("body is not JSON") from exc
        message = update.get("message") if isinstance(update, dict) else None
        if not isinstance(message, dict):
            return []  # edits, channel posts, callbacks: nothing to route
        chat = message.get("chat") or {}
        if chat.get("type") != "private" or "id" not in chat or "message_id" not in message:
            return []
        text = message.get("text") or message.get("caption") or ""
        received = None
        try:
            received = datetime.fromtimestamp(int(message.get("date")), tz=UTC)
        except (TypeError, ValueError, OverflowError):
            pass
        return [
            Incoming(
                external_id=f"{chat['id']}:{message['message_id']}",
                sender=str(chat["id"]),
                text=str(text),
                received_at=received,
            )
        ]

    # ---- outbound ------------------------------------------------------------------------
    def _call(self, method: str, payload: dict) -> dict:
        token = self.config.get("bot_token", "")
        if not token:
            raise PermanentError("channel not configured", code="config")
        base = (self.config.get("api_base") or API_BASE).rstrip("/")
        response = self.request("POST", f"{base}/bot{token}/{method}", json=payload)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if response.status_code == 429 or (answer.get("error_code") == 429):
            wait = (answer.get("parameters") or {}).get("retry_after")
            raise RetryableError("HTTP 429", code="429", retry_after=_float(wait))
        raise_for_status(response, code=str(answer.get("error_code") or ""))
        if not answer.get("ok"):
            raise PermanentError("answer not ok", code=str(answer.get("error_code") or "answer"))
        return answer

    def send(self, message, *, to: str) -> Sent:
        answer = self._call("sendMessage", {"chat_id": to, "text": message.text})
        result = answer.get("result") or {}
        return Sent(provider_id=f"{to}:{result.get('message_id', '')}")

    def set_webhook(self, *, url: str | None = None) -> None:
        """Tell Telegram where to send updates, with our secret token."""
        url = url or hook_url(self.channel)
        if not url.startswith("https://"):
            raise InvalidInput(_("Telegram needs an https:// webhook URL (set SERENO_PUBLIC_URL)."))
        self._call(
            "setWebhook",
            {
                "url": url,
                "secret_token": self.config.get("secret_token", ""),
                "allowed_updates": ["message"],
            },
        )


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
