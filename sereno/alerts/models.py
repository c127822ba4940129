import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Alert(models.Model):
    """An early-warning alert, modelled on CAP 1.2 (one `info` per language).

    Drafted by one person, approved by another (a database constraint as well as the service
    refuses the same person). Updates and cancellations are new alerts that reference the one
    they replace, as CAP's msgType/references do.
    """

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("waiting for approval")
        PUBLISHED = "published", _("published")
        REJECTED = "rejected", _("rejected")
        SUPERSEDED = "superseded", _("superseded")

    class MsgType(models.TextChoices):
        ALERT = "Alert", _("alert")
        UPDATE = "Update", _("update")
        CANCEL = "Cancel", _("cancellation")

    class Status(models.TextChoices):  # CAP <status>
        ACTUAL = "Actual", _("actual")
        EXERCISE = "Exercise", _("exercise")
        TEST = "Test", _("test")

    class Category(models.TextChoices):  # CAP <category>, the ones that fit Sereno's alerts
        SECURITY = "Security", _("security")
        SAFETY = "Safety", _("safety")
        RESCUE = "Rescue", _("rescue")
        HEALTH = "Health", _("health")
        TRANSPORT = "Transport", _("transport")
        INFRA = "Infra", _("infrastructure")
        OTHER = "Other", _("other")

    class Urgency(models.TextChoices):
        IMMEDIATE = "Immediate", _("immediate")
        EXPECTED = "Expected", _("expected")
        FUTURE = "Future", _("future")
        PAST = "Past", _("past")
        UNKNOWN = "Unknown", _("unknown")

    class Severity(models.TextChoices):
        EXTREME = "Extreme", _("extreme")
        SEVERE = "Severe", _("severe")
        MODERATE = "Moderate", _("moderate")
        MINOR = "Minor", _("minor")
        UNKNOWN = "Unknown", _("unknown")

    class Certainty(models.TextChoices):
        OBSERVED = "Observed", _("observed")
        LIKELY = "Likely", _("likely")
        POSSIBLE = "Possible", _("possible")
        UNLIKELY = "Unlikely", _("unlikely")
        UNKNOWN = "Unknown", _("unknown")

    class Fanout(models.TextChoices):
        NONE = "none", _("not started")
        RUNNING = "running", _("running")
        DONE = "done", _("done")

    identifier = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.DRAFT)
    msg_type = models.CharField(max_length=8, choices=MsgType.choices, default=MsgType.ALERT)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTUAL)
    references = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="followups"
    )
    category = models.CharField(max_length=12, choices=Category.choices, default=Category.SECURITY)
    event_es = models.CharField(_("event (Spanish)"), max_length=120)
    event_en = models.CharField(_("event (English)"), max_length=120, blank=True)
    urgency = models.CharField(max_length=10, choices=Urgency.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    certainty = models.CharField(max_length=10, choices=Certainty.choices)
    headline_es = models.CharField(_("headline (Spanish)"), max_length=160)
    headline_en = models.CharField(_("headline (English)"), max_length=160, blank=True)
    description_es = models.TextField(_("description (Spanish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    instruction_es = models.TextField(_("instruction (Spanish)"), blank=True)
    instruction_en = models.TextField(_("instruction (English)"), blank=True)
    area_desc_es = models.CharField(_("area (Spanish)"), max_length=200)
    area_desc_en = models.CharField(_("area (English)"), max_length=200, blank=True)
    zones = models.ManyToManyField("geo.Zone", related_name="alerts")
    effective = models.DateTimeField()
    expires = models.DateTimeField()
    # The detection signal it was drafted from, if any (an id: detection may be turned off).
    signal_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    rejected_reason = models.TextField(blank=True)
    # Fan-out bookkeeping (see fanout.py; each part's cursor is a FanoutPart row).
    fanout = models.CharField(max_length=8, choices=Fanout.choices, default=Fanout.NONE)
    fanout_started_at = models.DateTimeField(null=True, blank=True)
    fanout_finished_at = models.DateTimeField(null=True, blank=True)
    # Moved by every batch: a running fan-out whose beat stops has died and is resumed.
    fanout_beat_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("draft_alert", "Can draft alerts"),
            ("approve_alert", "Can approve and publish alerts"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="alert_approved_by_someone_else",
            ),
            models.CheckConstraint(condition=Q(expires__gt=F("effective")), name="alert_expires"),
        ]
        indexes = [models.Index(fields=["state", "expires"])]

    def __str__(self) -> str:
        return self.headline_es


class AlertRecipient(models.Model):
    """One row per contact an alert is sent to: the unique constraint is what makes a retried
    or crashed fan-out never message anyone twice."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("messaging.Contact", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(
        "messaging.OutboundMessage", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "contact"], name="alert_once_per_contact")
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} → contact {self.contact_id}"


class FanoutPart(models.Model):
    """One part of an alert's fan-out (the contacts whose id modulo the number of parts is
    `part`), written in batches by one worker: the last contact id written, under a row lock
    that lets the parts run side by side and each resume after a crash."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="fanout_parts")
    part = models.PositiveSmallIntegerField()
    cursor = models.BigIntegerField(default=0)
    recipients = models.PositiveIntegerField(default=0)
    beat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "part"], name="alert_fanout_part_once")
        ]

    def __str__(self) -> str:
        return f"alert {self.alert_id} part {self.part}"
