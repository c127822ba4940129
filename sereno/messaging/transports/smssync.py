"""An Android phone as SMS gateway, speaking the SMSSync protocol.

- Inbound: the phone POSTs form fields `from`, `message`, `message_id`, `sent_to`, `secret`,
  `device_id`, `sent_timestamp`; we answer `{"payload": {"success": true, "error": null}}`.
- Outbound is pulled, not pushed: the phone polls `GET ?task=send` and gets at most
  `batch_size` messages of this channel. They are *claimed* with the outbox's own lease
  (`outbox.claim`), exactly as a sender claims rows, so a phone that polls again before
  acknowledging gets none of them twice — unless the lease ran out (the phone died).
- `POST ?task=sent` with `queued_messages` (uuids): the phone has queued them; we mark them
  sent and answer `message_uuids` with those we know.
- `GET ?task=result` lists uuids awaiting a delivery report; `POST ?task=result` with
  `message_result[]` (`sent_result_code` 0 = sent, `delivered_result_code` 0 = delivered)
  moves rows to delivered or failed.

Every request must carry the channel's secret (form field, query parameter or JSON key
`secret`), compared in constant time — except the `task=sent` acknowledgement, which the app
sends without it (see `handle`); the phone checks the `secret` we send back.
"""

import json
import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime

from django.http import JsonResponse
from django.utils import timezone

from sereno.lib.errors import InvalidInput
from sereno.messaging.channels import same_secret
from sereno.messaging.models import OutboundMessage
from sereno.messaging.transports.base import (
    AuthenticationFailed,
    Incoming,
    RetryableError,
    StatusUpdate,
    Transport,
)

log = logging.getLogger(__name__)
S = OutboundMessage.Status
DEFAULT_BATCH = 20
DEFAULT_LEASE = 600  # seconds a phone has to acknowledge (task=sent) what it fetched
MAX_UUIDS = 500


class SMSSyncTransport(Transport):
    kind = "smssync"
    scheme = "tel"
    is_sms = True
    # The phone fetches its messages: senders leave this channel's rows to `handle`.
    outbound_pull = True
    config_fields = ("secret", "batch_size", "lease_seconds")
    secret_fields = ("secret",)
    required_fields = ("secret",)

    # ---- one URL, several tasks ----------------------------------------------------------
    def handle(self, request, endpoint: str):
        from sereno.messaging import services

        body = self._body(request)
        task = request.GET.get("task", "")
        # SMSSync posts task=sent without its secret (only the uuids it was handed). The
        # uuids are the credential there: random, given out only to a poll that carried the
        # secret, and they can only move this channel's claimed rows on to "sent". A secret
        # that is sent must still be right.
        acknowledging = (
            task == "sent" and request.method == "POST" and not _given_secret(request, body)
        )
        if not acknowledging:
            self.authenticate(request, endpoint, body=body)
        if task == "send":
            return self._send_task()
        if task == "sent" and request.method == "POST":
            return JsonResponse({"message_uuids": self._mark_sent(_uuids(body, "queued_messages"))})
        if task == "result":
            if request.method == "POST":
                self._record_results(body)
                return JsonResponse({"payload": {"success": True, "error": None}})
            return JsonResponse({"message_uuids": self._awaiting_results()})
        if request.method != "POST":
            raise InvalidInput("unknown task")
        for incoming in self._parse(body):
            try:
                services.inbound_receive(channel=self.channel, incoming=incoming)
            except InvalidInput:
                # A sender that is no phone number (an operator's "Tigo" promotions): nobody
                # to answer. Acknowledged, or the phone would post it again forever.
                log.info("channel %s: SMS from a non-number sender skipped", self.channel.pk)
        return JsonResponse({"payload": {"success": True, "error": None}})

    def _body(self, request) -> dict:
        """Form fields, or a JSON object (task=sent and task=result are JSON)."""
        if request.method != "POST":
            return {}
        if request.content_type == "application/json":
            try:
                data = json.loads(request.body or b"{}")
            except ValueError as exc:
                raise InvalidInput("body is not JSON") from exc
            return data if isinstance(data, dict) else {}
        data = {key: request.POST.getlist(key) for key in request.POST}
        return {key: values[0] if len(values) == 1 else values for key, values in data.items()}

    def authenticate(self, request, endpoint: str, *, body: dict | None = None) -> None:
        given = _given_secret(request, body or {})
        if not isinstance(given, str) or not same_secret(given, self.config.get("secret", "")):
            raise AuthenticationFailed("bad or missing secret")

    # ---- inbound -------------------------------------------------------------------------
    def _parse(self, body: dict) -> list[Incoming]:
        sender, message_id = body.get("from"), body.get("message_id")
        if not isinstance(sender, str) or not sender or not isinstance(message_id, str):
            raise InvalidInput("from and message_id are required")
        received = None
        stamp = body.get("sent_timestamp")
        try:
            value = int(stamp)
            # SMSSync sends milliseconds in recent versions, seconds in old ones.
            received = datetime.fromtimestamp(value / 1000 if value > 10**11 else value, tz=UTC)
        except (TypeError, ValueError, OverflowError, OSError):
            pass
        text = body.get("message") if isinstance(body.get("message"), str) else ""
        return [Incoming(external_id=message_id, sender=sender, text=text, received_at=received)]

    def parse(self, request) -> list[Incoming]:
        return self._parse(self._body(request))

    # ---- outbound: the phone pulls -------------------------------------------------------
    def _int_config(self, name: str, default: int, low: int, high: int) -> int:
        try:
            return max(low, min(int(self.config.get(name) or default), high))
        except ValueError:
            return default

    def _send_task(self) -> JsonResponse:
        from sereno.messaging import outbox

        policy = outbox.Policy.from_settings()
        policy = outbox.Policy(
            lease_seconds=self._int_config("lease_seconds", DEFAULT_LEASE, 30, 86400),
            max_attempts=policy.max_attempts,
            backoff_seconds=policy.backoff_seconds,
            backoff_max_seconds=policy.backoff_max_seconds,
        )
        token = outbox.new_token()
        limit = self._int_config("batch_size", DEFAULT_BATCH, 1, 200)
        rows = outbox.claim(channel=self.channel, limit=limit, token=token, policy=policy)
        now = timezone.now()
        messages = []
        for row in rows:
            if row.valid_until is not None and row.valid_until <= now:
                outbox.record_failed(row, token=token, status=S.EXPIRED, code="validity")
            elif row.contact.opted_out_at is not None and not row.even_if_opted_out:
                outbox.record_failed(row, token=token, code="opted_out", detail="opted out")
            else:
                messages.append({"to": row.contact.address, "message": row.text,
                                 "uuid": str(row.uuid)})  # fmt: skip
        payload = {"task": "send", "secret": self.config.get("secret", ""), "messages": messages}
        return JsonResponse({"payload": payload})

    def _mark_sent(self, uuids: list[str]) -> list[str]:
        from sereno.messaging import outbox

        rows = list(OutboundMessage.objects.filter(channel=self.channel, uuid__in=uuids))
        now = timezone.now()
        by_token = defaultdict(list)
        for row in rows:
            if row.status == S.SENDING:
                by_token[row.claim_token].append((row, str(row.uuid), now))
        for token, results in by_token.items():
            outbox.record_sent(results, token=token)
        return [str(row.uuid) for row in rows]

    def _awaiting_results(self) -> list[str]:
        since = timezone.now() - timezone.timedelta(days=2)
        return [
            str(value)
            for value in OutboundMessage.objects.filter(
                channel=self.channel, status=S.SENT, sent_at__gte=since
            )
            .order_by("sent_at")
            .values_list("uuid", flat=True)[:MAX_UUIDS]
        ]

    def _record_results(self, body: dict) -> None:
        from sereno.messaging import outbox

        for update in self.results(body):
            outbox.status_record(channel=self.channel, update=update)

    @staticmethod
    def results(body: dict) -> list[StatusUpdate]:
        items = body.get("message_result")
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except ValueError:
                items = []
        updates = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not item.get("uuid"):
                continue
            sent, delivered = (
                _code(item.get("sent_result_code")),
                _code(item.get("delivered_result_code")),
            )
            if sent is not None and sent != 0:
                status, code = "failed", f"sent:{sent}"
                detail = str(item.get("sent_result_message") or "")
            elif delivered == 0:
                status, code, detail = "delivered", "", ""
            elif delivered is not None and delivered > 0:
                status, code = "failed", f"delivered:{delivered}"
                detail = str(item.get("delivered_result_message") or "")
            elif sent == 0:
                status, code, detail = "sent", "", ""
            else:
                continue
            updates.append(StatusUpdate(status=status, message_uuid=str(item["uuid"]),
                                        code=code, detail=detail[:300]))  # fmt: skip
        return updates

    def parse_status(self, request) -> list[StatusUpdate]:
        return self.results(self._body(request))

    def send(self, message, *, to: str):
        # Never called by a sender that honours `outbound_pull`; if one does, leave the row queued.
        raise RetryableError("this channel's phone fetches its messages", code="polled")


def _given_secret(request, body: dict):
    return body.get("secret") or request.GET.get("secret") or ""


def _uuids(body: dict, key: str) -> list[str]:
    values = body.get(key)
    if isinstance(values, str):
        try:
            values = json.loads(values)
        except ValueError:
            values = [values]
    if not isinstance(values, list):
        return []
    found = []
    for value in values[:MAX_UUIDS]:
        try:
            found.append(str(uuid.UUID(str(value))))
        except ValueError:
            continue
    return found


def _code(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
