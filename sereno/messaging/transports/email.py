"""E-mail: inbound by polling a reply mailbox over IMAP, outbound by SMTP.

`poll()` fetches unseen messages, stores each once (idempotent on its Message-ID), keeps the
plain-text part with the quoted earlier conversation and the signature cut off, and marks it
seen only after it is stored: a crash in between means the next poll stores it again, which
the Message-ID makes harmless. Automatic replies (out-of-office, bounces) are marked seen and
skipped, so two robots never talk to each other through us.

There is no webhook: requests to this channel's hook URL are answered 404.
"""

import email
import email.policy
import hashlib
import imaplib
import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr, parsedate_to_datetime

from django.conf import settings
from django.http import Http404
from django.utils.html import strip_tags

from sereno.lib.errors import InvalidInput
from sereno.messaging.transports.base import (
    Incoming,
    PermanentError,
    RetryableError,
    Sent,
    Transport,
)

log = logging.getLogger(__name__)

TIMEOUT = 30
MAX_PER_POLL = 200
SECURITY = ("ssl", "starttls", "none")

# Where the quoted earlier conversation starts (Gmail, Outlook, Apple Mail, Thunderbird; Spanish
# and English), and signatures.
_CUT = [
    re.compile(r"^-{2,}\s*(original message|mensaje original|forwarded message|mensaje reenviado)",
               re.I),
    re.compile(r"^_{8,}\s*$"),
    re.compile(r"^(from|de):\s.+", re.I),
    re.compile(r"^--\s*$"),
    re.compile(r"^(sent from my|enviado desde mi)\b", re.I),
]  # fmt: skip
_WROTE = re.compile(r"(wrote|escribi[oó]|a écrit)\s*:\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"^(on|el)\s", re.I)


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the attribution line ("El lun., … escribió:"), quoted
    lines ("> …"), an Outlook header block or the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for line in lines:
        stripped = line.strip()
        if _WROTE.search(stripped):
            # Gmail wraps a long attribution over two lines: drop its first half too.
            if (
                kept
                and _ATTRIBUTION_START.match(kept[-1].strip())
                and not _ATTRIBUTION_START.match(stripped)
            ):
                kept.pop()
            break
        if any(pattern.match(stripped) for pattern in _CUT):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def is_automatic(message) -> bool:
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    precedence = (message.get("Precedence") or "").strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or bool(message.get("X-Autoreply") or message.get("X-Autorespond"))
        or (parseaddr(message.get("Return-Path") or "x")[1] == "" and "Return-Path" in message)
    )


def body_text(message) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        content = part.get_payload(decode=True).decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        content = strip_tags(re.sub(r"(?i)<br\s*/?>|</p>", "\n", content))
    return content if isinstance(content, str) else ""


def incoming_from(raw: bytes) -> Incoming | None:
    """One e-mail as a normalised message, or None when it is automatic or has no sender."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if is_automatic(message):
        return None
    sender = parseaddr(str(message.get("From") or ""))[1]
    if not sender or "@" not in sender:
        return None
    message_id = str(message.get("Message-ID") or "").strip()
    if not message_id:
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    text = strip_quoted(body_text(message))
    if not text:
        text = re.sub(r"^((re|fwd?|rv)\s*:\s*)+", "", str(message.get("Subject") or ""), flags=re.I)
    received = None
    try:
        received = parsedate_to_datetime(str(message.get("Date")))
        if received is not None and received.tzinfo is None:
            received = None
    except (TypeError, ValueError, IndexError):
        received = None
    return Incoming(external_id=message_id[:200], sender=sender, text=text.strip(),
                    received_at=received)  # fmt: skip


class EmailTransport(Transport):
    kind = "email"
    scheme = "mailto"
    is_sms = False
    config_fields = (
        "from_address", "subject",
        "imap_host", "imap_port", "imap_security", "imap_user", "imap_password", "imap_folder",
        "smtp_host", "smtp_port", "smtp_security", "smtp_user", "smtp_password",
    )  # fmt: skip
    secret_fields = ("imap_password", "smtp_password")
    required_fields = ("from_address", "imap_host", "imap_user", "imap_password", "smtp_host")

    def handle(self, request, endpoint: str):
        raise Http404

    def _security(self, prefix: str, default: str) -> str:
        value = (self.config.get(f"{prefix}_security") or default).lower()
        return value if value in SECURITY else default

    def _port(self, prefix: str, security: str) -> int:
        defaults = {"imap": {"ssl": 993, "starttls": 143, "none": 143},
                    "smtp": {"ssl": 465, "starttls": 587, "none": 25}}  # fmt: skip
        try:
            return int(self.config.get(f"{prefix}_port") or defaults[prefix][security])
        except ValueError:
            return defaults[prefix][security]

    # ---- inbound: IMAP -------------------------------------------------------------------
    def _imap(self) -> imaplib.IMAP4:
        host = self.config.get("imap_host", "")
        security = self._security("imap", "ssl")
        port = self._port("imap", security)
        context = ssl.create_default_context()
        if security == "ssl":
            conn = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=TIMEOUT)
        else:
            conn = imaplib.IMAP4(host, port, timeout=TIMEOUT)
            if security == "starttls":
                conn.starttls(ssl_context=context)
        conn.login(self.config.get("imap_user", ""), self.config.get("imap_password", ""))
        return conn

    def poll(self, *, limit: int = MAX_PER_POLL) -> int:
        """Store unseen mail of the mailbox; returns how many messages were new."""
        from sereno.messaging import services

        conn = self._imap()
        created = 0
        try:
            status, _ = conn.select(self.config.get("imap_folder") or "INBOX")
            if status != "OK":
                raise RetryableError("cannot open the mailbox folder", code="imap")
            status, data = conn.uid("SEARCH", None, "UNSEEN")
            uids = data[0].split()[:limit] if status == "OK" and data and data[0] else []
            for uid in uids:
                status, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts or [] if isinstance(p, tuple)), None)
                if status != "OK" or raw is None:
                    continue
                try:
                    incoming = incoming_from(raw)
                    own = self.config.get("from_address", "").lower()
                    if incoming is not None and incoming.sender.lower() != own:
                        _, new = services.inbound_receive(channel=self.channel, incoming=incoming)
                        created += int(new)
                except (InvalidInput, LookupError, ValueError, TypeError) as error:
                    # A mail we cannot read must not block the ones after it: it stays in the
                    # mailbox (read) for a person to look at.
                    log.warning("channel %s: mail %s skipped (%s)", self.channel.pk,
                                uid.decode(), type(error).__name__)  # fmt: skip
                conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
        finally:
            try:
                conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
        return created

    # ---- outbound: SMTP ------------------------------------------------------------------
    def compose(self, message, *, to: str) -> EmailMessage:
        sender = self.config.get("from_address") or self.channel.address
        mail = EmailMessage()
        mail["From"] = f"{settings.SITE_NAME} <{sender}>"
        mail["To"] = to
        mail["Subject"] = self.config.get("subject") or settings.SITE_NAME
        mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        mail["Auto-Submitted"] = "auto-replied" if message.in_reply_to_id else "auto-generated"
        # Threaded under the e-mail it answers when the sender loaded it (senders' pool
        # threads do not query the database).
        field = type(message)._meta.get_field("in_reply_to")
        original = field.get_cached_value(message) if field.is_cached(message) else None
        if original is not None and original.channel_id == self.channel.pk:
            mail["In-Reply-To"] = original.external_id
            mail["References"] = original.external_id
        mail.set_content(message.text)
        return mail

    def _smtp(self) -> smtplib.SMTP:
        host = self.config.get("smtp_host", "")
        security = self._security("smtp", "starttls")
        port = self._port("smtp", security)
        context = ssl.create_default_context()
        if security == "ssl":
            conn = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
        else:
            conn = smtplib.SMTP(host, port, timeout=TIMEOUT)
            if security == "starttls":
                conn.starttls(context=context)
        if self.config.get("smtp_user"):
            conn.login(self.config["smtp_user"], self.config.get("smtp_password", ""))
        return conn

    def send(self, message, *, to: str) -> Sent:
        if not self.config.get("smtp_host") or not self.config.get("from_address"):
            raise PermanentError("channel not configured", code="config")
        mail = self.compose(message, to=to)
        try:
            conn = self._smtp()
            try:
                conn.send_message(mail)
            finally:
                try:
                    conn.quit()
                except (smtplib.SMTPException, OSError):
                    pass
        except smtplib.SMTPRecipientsRefused as exc:
            # The exception names the address: only its SMTP code goes on.
            codes = [code for code, _ in exc.recipients.values()]
            raise _by_code(codes[0] if codes else 550) from None
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:
            raise PermanentError(
                "the server does not offer what is configured", code="smtp"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise RetryableError(f"SMTP {type(exc).__name__}", code="network") from None
        return Sent(provider_id=str(mail["Message-ID"]))


def _by_code(code: int):
    detail = f"SMTP {code}"
    if 400 <= code < 500:
        return RetryableError(detail, code=str(code))
    return PermanentError(detail, code=str(code))
