from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A node of the hierarchical incident taxonomy, named in Spanish and English."""

    slug = models.SlugField(max_length=64, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name_es = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    description_es = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    # Domestic or sexual violence: reports in it are sensitive (coarser public location).
    sensitive = models.BooleanField(default=False)
    color = models.CharField(max_length=7, default="#555555")
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.slug

    def name(self, language: str) -> str:
        return self.name_en if language.startswith("en") else self.name_es


class Status(models.TextChoices):
    RECEIVED = "received", _("received")
    VERIFIED = "verified", _("verified")
    REJECTED = "rejected", _("rejected")
    PUBLISHED = "published", _("published")
    ARCHIVED = "archived", _("archived")


class TimePrecision(models.TextChoices):
    EXACT = "exact", _("exact time")
    DAY = "day", _("day")
    MONTH = "month", _("month")


class LocationPrecision(models.TextChoices):
    EXACT = "exact", _("exact point")
    PLACE = "place", _("place or neighbourhood")
    MUNICIPALITY = "municipality", _("municipality")
    DEPARTMENT = "department", _("department")


class Channel(models.TextChoices):
    WEB = "web", _("web")
    API = "api", _("API")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("e-mail")
    ODK = "odk", _("ODK Collect")
    IMPORT = "import", _("import")
    STAFF = "staff", _("staff")


class Report(models.Model):
    reference = models.CharField(max_length=16, unique=True)
    # "<channel>:<key>" from an Idempotency-Key or a gateway's message id: retries never
    # create a second report.
    intake_key = models.CharField(max_length=200, unique=True, null=True, blank=True)
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=10000)
    categories = models.ManyToManyField(Category, related_name="reports", blank=True)

    occurred_at = models.DateTimeField(db_index=True)
    occurred_precision = models.CharField(
        max_length=8, choices=TimePrecision.choices, default=TimePrecision.DAY
    )

    # Exact location: staff only, never in a public payload.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    location_precision = models.CharField(
        max_length=16, choices=LocationPrecision.choices, default=LocationPrecision.PLACE
    )
    place_name = models.CharField(max_length=200, blank=True)
    department_code = models.CharField(max_length=8, blank=True, db_index=True)
    municipality_code = models.CharField(max_length=32, blank=True, db_index=True)
    # Public location: the centre of an H3 cell whose size follows precision and sensitivity.
    public_latitude = models.FloatField(null=True, blank=True)
    public_longitude = models.FloatField(null=True, blank=True)
    public_resolution = models.PositiveSmallIntegerField(null=True, blank=True)
    # H3 cells of the public location at the map's zoom bands (country → street).
    h3_r4 = models.BigIntegerField(null=True, blank=True, db_index=True)
    h3_r6 = models.BigIntegerField(null=True, blank=True, db_index=True)
    h3_r8 = models.BigIntegerField(null=True, blank=True, db_index=True)
    h3_r10 = models.BigIntegerField(null=True, blank=True, db_index=True)

    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.WEB)
    language = models.CharField(max_length=8, default="es")
    sensitive = models.BooleanField(default=False)
    involves_minors = models.BooleanField(default=False)
    sensitive_by_moderator = models.BooleanField(default=False)
    killed = models.PositiveIntegerField(null=True, blank=True)
    injured = models.PositiveIntegerField(null=True, blank=True)
    contact_encrypted = models.BinaryField(null=True, blank=True, editable=False)

    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)

    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_sources"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "occurred_at"]),
            models.Index(fields=["status", "department_code", "occurred_at"]),
        ]
        permissions = [
            ("moderate_report", "Can moderate reports"),
            ("view_exact_location", "Can see exact report locations"),
            ("view_reporter_contact", "Can see reporter contacts"),
        ]

    def __str__(self) -> str:
        return self.reference


class Media(models.Model):
    """An uploaded file. The original is kept encrypted (chain of custody, SHA-256 at intake);
    only a cleaned derivative (re-encoded, metadata removed) is ever shown."""

    class State(models.TextChoices):
        PENDING = "pending", _("being cleaned")
        CLEAN = "clean", _("cleaned")
        UNSUPPORTED = "unsupported", _("cannot be cleaned")
        FAILED = "failed", _("broken file")

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="media")
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_path = models.CharField(max_length=200)  # relative to MEDIA_DIR, encrypted
    cleaned_path = models.CharField(max_length=200, blank=True)
    cleaned_type = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.report_id}/{self.pk}"


class Comment(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"comment {self.pk} on {self.report_id}"
