"""Staff and the person who reported by SMS or chat: the thread of a report, and replies.

Staff see the contact's reference ("C-12"), never its number. A reply is an outbox row with
cause "staff_reply" written in the same transaction as its audit entry; the reporter's answer
comes back through `route`, which attaches it to the report (see conversations/__init__.py).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from sereno.accounts.audit import audit_append
from sereno.lib.errors import InvalidInput, NotAllowed, NotFound
from sereno.messaging import outbox
from sereno.messaging.models import Contact, Conversation, InboundMessage, OutboundMessage

PERMISSION = "reports.moderate_report"
MAX_REPLY = 640  # four SMS at most


@dataclass
class ThreadEntry:
    at: datetime
    inbound: bool
    text: str
    status: str = ""  # outbound: queued | sending | sent | delivered | failed | expired
    status_label: str = ""
    author: str = ""  # outbound: the staff member, or "" for Sereno's automatic replies
    segments: int = 0
    cost: str = ""  # outbound: estimated cost, e.g. "0.0150 USD" ("" when the price is unknown)


@dataclass
class Thread:
    contact: Contact
    entries: list[ThreadEntry]

    @property
    def can_reply(self) -> bool:
        return not self.contact.opted_out


def report_contact(report) -> Contact | None:
    """The contact a report came from, if it came from a conversation."""
    conversation = (
        Conversation.objects.filter(report=report).select_related("contact").order_by("-pk").first()
    )
    return conversation.contact if conversation else None


def report_thread(report) -> Thread | None:
    """Every message exchanged about a report, oldest first; None if it did not come from a
    conversation."""
    contact = report_contact(report)
    if contact is None:
        return None
    inbound = list(
        InboundMessage.objects.filter(contact=contact)
        .filter(Q(conversation__report=report) | Q(report=report))
        .only("pk", "text", "received_at")
    )
    ids = [m.pk for m in inbound]
    outbound = (
        OutboundMessage.objects.filter(contact=contact)
        .filter(Q(report=report) | Q(in_reply_to_id__in=ids))
        .select_related("author", "channel")
        .only(
            "text",
            "status",
            "created_at",
            "segments",
            "cost_estimate",
            "author__username",
            "channel__currency",
        )
    )
    entries = [ThreadEntry(m.received_at, True, m.text) for m in inbound]
    entries += [
        ThreadEntry(
            m.created_at,
            False,
            m.text,
            m.status,
            m.get_status_display(),
            m.author.username if m.author else "",
            m.segments,
            f"{m.cost_estimate} {m.channel.currency}" if m.cost_estimate else "",
        )  # fmt: skip
        for m in outbound
    ]
    entries.sort(key=lambda e: e.at)
    return Thread(contact=contact, entries=entries)


def staff_reply_send(*, actor, report_id: int, text: str, nonce: str = "") -> OutboundMessage:
    """Send `text` to the person who reported `report_id` through a conversation. `nonce`
    (one per form shown) makes a double submission send once."""
    from sereno.reports.models import Report

    if not actor.has_perm(PERMISSION):
        raise NotAllowed(_("You are not allowed to do this."))
    text = "\n".join(line.rstrip() for line in (text or "").strip().splitlines())
    if not text:
        raise InvalidInput(_("Write a message."), field="text")
    if len(text) > MAX_REPLY:
        raise InvalidInput(_("At most %(max)d characters.") % {"max": MAX_REPLY}, field="text")
    with transaction.atomic():
        report = Report.objects.filter(pk=report_id).first()
        if report is None:
            raise NotFound(_("No such report."))
        contact = report_contact(report)
        if contact is None:
            raise InvalidInput(_("This report did not come from SMS or chat."), field="text")
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if contact.opted_out:
            raise NotAllowed(_("The reporter opted out of messages: nothing can be sent."))
        if contact.last_channel_id is None:
            raise InvalidInput(_("No channel reaches this reporter."), field="text")
        key = f"staff:{report.pk}:{nonce[:64]}" if nonce else None
        if key and (sent := OutboundMessage.objects.filter(dedupe_key=key).first()):
            return sent  # the same form sent twice: once is enough, and audited once
        message = outbox.enqueue(
            contact=contact, text=text, cause="staff_reply", report=report, author=actor,
            dedupe_key=key, priority=1,
        )  # fmt: skip
        audit_append(
            actor=actor, action="report.reply", object_type="report",
            object_id=report.reference,
            after={"message": message.pk, "contact": contact.reference,
                   "segments": message.segments},
        )  # fmt: skip
    return message
