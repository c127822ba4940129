"""Channels, contacts, inbound messages, conversations and the outbound outbox.

A phone number, chat id or e-mail address is never stored in clear: a contact holds a keyed
hash (to find it again) and the address sealed with the encryption key (to send to it).
Staff see a contact, never its address.
"""

import json
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from sereno.lib.crypto import seal_text, unseal_text

CHANNEL_CONFIG_PURPOSE = "channel-config"
CONTACT_ADDRESS_PURPOSE = "contact-address"


class Channel(models.Model):
    """One configured gateway or account. Off until an admin sets its credentials."""

    class Kind(models.TextChoices):
        KANNEL = "kannel", _("SMS through Kannel")
        TWILIO_SMS = "twilio_sms", _("SMS through Twilio")
        TWILIO_WHATSAPP = "twilio_whatsapp", _("WhatsApp through Twilio")
        SMSSYNC = "smssync", _("SMS through an Android phone (SMSSync)")
        WHATSAPP = "whatsapp", _("WhatsApp Cloud API")
        TELEGRAM = "telegram", _("Telegram bot")
        EMAIL = "email", _("E-mail")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    # Our own address on this channel (short code, number, bot name, reply address): public.
    address = models.CharField(_("address"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=False)
    config_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    # Token bucket per route: segments per second, and how many may go at once.
    rate_per_second = models.FloatField(_("segments per second"), default=10.0)
    burst = models.PositiveIntegerField(_("burst"), default=10)
    # What the route charges per SMS segment (0 when unknown), for the cost shown to staff.
    price_per_segment = models.DecimalField(
        _("price per segment"), max_digits=8, decimal_places=4, default=0
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    language = models.CharField(_("default language"), max_length=8, default="es")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_channels", "Can configure messaging channels")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def config(self) -> dict:
        if not self.config_encrypted:
            return {}
        return json.loads(unseal_text(self.config_encrypted, purpose=CHANNEL_CONFIG_PURPOSE))

    def set_config(self, config: dict) -> None:
        self.config_encrypted = seal_text(
            json.dumps(config, sort_keys=True), purpose=CHANNEL_CONFIG_PURPOSE
        )

    @property
    def scheme(self) -> str:
        from sereno.messaging.transports import transport_class

        return transport_class(self.kind).scheme


class Contact(models.Model):
    """A person we talk to, on any channel of one address scheme (SMS and WhatsApp share
    the phone number, so opting out on one is opting out on both)."""

    class Scheme(models.TextChoices):
        TEL = "tel", _("phone")
        TELEGRAM = "telegram", _("Telegram")
        MAILTO = "mailto", _("e-mail")

    scheme = models.CharField(max_length=10, choices=Scheme.choices)
    # Keyed hash of "scheme:normalised address" (sereno.messaging.contacts.address_hash).
    address_hash = models.CharField(max_length=64, unique=True)
    address_encrypted = models.BinaryField(editable=False)
    language = models.CharField(max_length=8, default="es")
    last_channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    opted_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """What staff see instead of the address."""
        return f"C-{self.pk}"

    @property
    def address(self) -> str:
        return unseal_text(self.address_encrypted, purpose=CONTACT_ADDRESS_PURPOSE)

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None


class Conversation(models.Model):
    """A report being collected question by question. At most one open per contact."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        COMPLETED = "completed", _("completed")
        EXPIRED = "expired", _("expired")
        CANCELLED = "cancelled", _("cancelled")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # The question waiting for an answer (what, where, where_choice, when, category, …).
    step = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict, blank=True)
    language = models.CharField(max_length=8, default="es")
    report = models.ForeignKey(
        "reports.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=Q(status="open"),
                name="messaging_one_open_conversation_per_contact",
            )
        ]
        indexes = [models.Index(fields=["status", "expires_at"])]

    def __str__(self) -> str:
        return f"conversation {self.pk} ({self.status})"


class InboundMessage(models.Model):
    """A message as it arrived, stored before anything else happens. Unique per channel on the
    provider's own message id, so a gateway that retries never makes a second one."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        HANDLED = "handled", _("handled")
        FAILED = "failed", _("failed")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="inbound")
    external_id = models.CharField(max_length=200)
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="inbound")
    text = models.TextField(blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # What the message turned out to be: new_report, answer, staff_reply, opt_out, opt_in,
    # help, ignored.
    outcome = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    report = models.ForeignKey(
        "reports.Report", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"], name="messaging_inbound_once_per_provider_id"
            )
        ]

    def __str__(self) -> str:
        return f"inbound {self.pk} on channel {self.channel_id}"


class OutboundMessage(models.Model):
    """The transactional outbox: a message to send is a row written in the same transaction
    as its cause. Senders claim rows; delivery reports move them on."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        DELIVERED = "delivered", _("delivered")
        FAILED = "failed", _("failed")
        EXPIRED = "expired", _("expired")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Indexes cost every insert (an alert writes hundreds of thousands of rows): the foreign
    # keys that lead a composite index below have no index of their own, and columns that are
    # empty on almost every row are indexed only where set.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="outbound", db_index=False
    )
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="outbound")
    text = models.TextField()
    encoding = models.CharField(max_length=8, default="gsm7")  # gsm7 | ucs2 | text
    segments = models.PositiveSmallIntegerField(default=1)
    # Segments times the channel's price per segment when enqueued (null when unknown).
    cost_estimate = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    # Only the confirmation of an opt-out is sent to an opted-out contact; senders check.
    even_if_opted_out = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Unique when set: one message per cause (e.g. "reply:<inbound id>", "alert:<id>:<contact>").
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    cause = models.CharField(max_length=20, blank=True)  # conversation, staff_reply, alert, …
    priority = models.SmallIntegerField(default=0)  # higher first
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    # A claim is a lease: a sender that dies leaves rows whose lease runs out and are retried.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=40, blank=True)
    provider_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    report = models.ForeignKey(
        "reports.Report",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    in_reply_to = models.ForeignKey(
        InboundMessage,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        db_index=False,
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # A constraint, not unique=True: no second (LIKE) index on PostgreSQL.
            models.UniqueConstraint(fields=["dedupe_key"], name="messaging_outbox_dedupe_key")
        ]
        indexes = [
            # The senders' claim: due rows of one channel, highest priority first.
            models.Index(
                fields=["channel", "status", "-priority", "next_attempt_at"],
                name="messaging_outbox_claim",
            ),
            models.Index(fields=["status", "claimed_until"]),
            models.Index(
                fields=["report", "created_at"],
                condition=Q(report__isnull=False),
                name="messaging_outbox_report",
            ),
            # Delivery reports find rows by the provider's id once sent.
            models.Index(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="messaging_outbox_provider",
            ),
            models.Index(
                fields=["author"], condition=Q(author__isnull=False), name="messaging_outbox_author"
            ),
            models.Index(
                fields=["in_reply_to"],
                condition=Q(in_reply_to__isnull=False),
                name="messaging_outbox_in_reply_to",
            ),
        ]

    def __str__(self) -> str:
        return f"outbound {self.pk} ({self.status})"


class DeliveryEvent(models.Model):
    """Each status change of an outbound message, as the gateway reported it."""

    message = models.ForeignKey(OutboundMessage, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=10)
    code = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.status} at {self.at:%Y-%m-%d %H:%M:%S}"
