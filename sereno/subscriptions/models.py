from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Subscription(models.Model):
    """A contact asking for alerts about one zone. A contact may hold several (home, work);
    an alert still reaches them once (alerts fan out per contact, not per subscription)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for confirmation")
        ACTIVE = "active", _("active")
        CANCELLED = "cancelled", _("cancelled")

    class Source(models.TextChoices):
        MESSAGE = "message", _("message (SMS, WhatsApp, Telegram)")
        WEB = "web", _("web")
        STAFF = "staff", _("staff")

    contact = models.ForeignKey(
        "messaging.Contact", on_delete=models.CASCADE, related_name="subscriptions"
    )
    # The channel alerts go out on (the one the contact subscribed through).
    channel = models.ForeignKey("messaging.Channel", on_delete=models.PROTECT, related_name="+")
    zone = models.ForeignKey("geo.Zone", on_delete=models.PROTECT, related_name="subscriptions")
    language = models.CharField(max_length=8, default="es")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices)
    # Confirmation: a short code sent by SMS or a link by e-mail; only its keyed hash is kept.
    confirmation_hash = models.CharField(max_length=64, blank=True)
    confirmation_expires_at = models.DateTimeField(null=True, blank=True)
    confirmation_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "zone"],
                condition=~Q(status="cancelled"),
                name="subscription_once_per_contact_zone",
            )
        ]
        # Fan-out: the active subscriptions of the zones an alert touches, by contact.
        indexes = [
            models.Index(fields=["zone", "status", "contact"], name="subscription_fanout"),
        ]

    def __str__(self) -> str:
        return f"subscription {self.pk} ({self.status})"
