"""Tip-line data. All a source wrote is ciphertext here; crypto.py says who can open it."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _localized(obj, field: str) -> str:
    if (get_language() or "es").startswith("en"):
        return getattr(obj, f"{field}_en") or getattr(obj, field)
    return getattr(obj, field)


class Channel(models.Model):
    """A tip box (e.g. corruption, violence) with its own questions and recipients."""

    slug = models.SlugField(_("address"), unique=True)
    name = models.CharField(_("name (Spanish)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True)
    description = models.TextField(_("description (Spanish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    active = models.BooleanField(_("open for tips"), default=True)
    allow_files = models.BooleanField(_("sources may attach files"), default=True)
    retention_days = models.PositiveIntegerField(_("days kept after the last activity"), default=90)
    recipients = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recipients"),
        blank=True,
        related_name="tip_channels",
        help_text=_("Users with the tip recipient role. Only they can read this box's tips."),
    )
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("tip channel")
        verbose_name_plural = _("tip channels")
        permissions = [("manage_tips", _("Configure tip channels and key escrow"))]

    def __str__(self) -> str:
        return self.name

    @property
    def title(self) -> str:
        return _localized(self, "name")

    @property
    def text(self) -> str:
        return _localized(self, "description")


class Question(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        CHOICE = "choice", _("Choice")
        DATE = "date", _("Date")
        PLACE = "place", _("Place")
        FILES = "files", _("Files")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    label = models.CharField(_("question (Spanish)"), max_length=200)
    label_en = models.CharField(_("question (English)"), max_length=200, blank=True)
    help = models.CharField(_("help (Spanish)"), max_length=300, blank=True)
    help_en = models.CharField(_("help (English)"), max_length=300, blank=True)
    required = models.BooleanField(_("required"), default=False)
    choices = models.TextField(_("choices (Spanish), one per line"), blank=True)
    choices_en = models.TextField(_("choices (English), one per line, same order"), blank=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.label

    @property
    def title(self) -> str:
        return _localized(self, "label")

    @property
    def hint(self) -> str:
        return _localized(self, "help")

    def choice_list(self) -> list[tuple[str, str]]:
        """(value, label) pairs; the value is the Spanish text, so answers read the same."""
        values = [line.strip() for line in self.choices.splitlines() if line.strip()]
        english = [line.strip() for line in self.choices_en.splitlines() if line.strip()]
        use_en = (get_language() or "es").startswith("en") and len(english) == len(values)
        return [(v, english[i] if use_en else v) for i, v in enumerate(values)]


class RecipientKey(models.Model):
    """A recipient's X25519 key pair; the private half only ever stored wrapped."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_key"
    )
    public_key = models.BinaryField()
    password_salt = models.BinaryField()
    password_wrapped = models.BinaryField()
    recovery_salt = models.BinaryField()
    recovery_wrapped = models.BinaryField()
    recovery_confirmed = models.BooleanField(default=False)
    escrow_wrapped = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("recipient key")
        verbose_name_plural = _("recipient keys")

    def __str__(self) -> str:
        return f"key of {self.user_id}"


class Escrow(models.Model):
    """Optional key escrow, off unless an admin turns it on. One row at most (id=1)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    public_key = models.BinaryField()
    enabled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return "escrow"


class Tip(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="tips")
    public_key = models.BinaryField()
    # Receipt: an HMAC lookup id (key outside the database), an Argon2id salt, the first
    # half of Argon2id(receipt) as verifier, and the tip key wrapped under the second half.
    lookup_id = models.CharField(max_length=64, unique=True)
    receipt_salt = models.BinaryField()
    receipt_verifier = models.BinaryField()
    source_wrapped = models.BinaryField()
    # The source's optional contact, sealed to the tip key: only readable when a recipient
    # with the unlocked key acts.
    contact_sealed = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity_at = models.DateTimeField()
    last_source_activity_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_activity_at"]
        verbose_name = _("tip")
        verbose_name_plural = _("tips")

    def __str__(self) -> str:
        return str(self.pk)


class TipAccess(models.Model):
    """The tip's private key sealed to one recipient, and what that recipient has seen."""

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="accesses")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tip_accesses"
    )
    wrapped = models.BinaryField()
    last_read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tip", "user"], name="tip_access_once")]

    def __str__(self) -> str:
        return f"{self.tip_id} → {self.user_id}"


class Entry(models.Model):
    """One message in a tip's conversation, sealed to the tip key."""

    class Kind(models.TextChoices):
        ANSWERS = "answers", _("Tip")
        COMMENT = "comment", _("Comment from the source")
        REPLY = "reply", _("Reply from a recipient")

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    sealed = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"


class TipFile(models.Model):
    class Status(models.TextChoices):
        CLEANED = "cleaned", _("cleaned")
        NOT_CLEANABLE = "not_cleanable", _("could not be cleaned — open with care")
        REJECTED = "rejected", _("rejected")

    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="files")
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="files")
    status = models.CharField(max_length=16, choices=Status.choices)
    # Name, type, size, SHA-256 of the original, cleaning reason: sealed JSON.
    sealed_meta = models.BinaryField()
    original_path = models.CharField(max_length=80, blank=True)
    original_key = models.BinaryField(null=True, blank=True)
    derivative_path = models.CharField(max_length=80, blank=True)
    derivative_key = models.BinaryField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"file {self.pk}"
