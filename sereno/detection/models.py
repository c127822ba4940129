from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Detector(models.TextChoices):
    SPACETIME = "spacetime", _("space-time permutation scan")
    CUSUM = "cusum", _("municipal CUSUM")


class DetectionRun(models.Model):
    """One scheduled (or manual) pass of the detectors: its parameters and cost."""

    class State(models.TextChoices):
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    parameters = models.JSONField(default=dict)
    study_start = models.DateField(null=True, blank=True)
    study_end = models.DateField(null=True, blank=True)
    cases = models.PositiveIntegerField(default=0)
    replicates_done = models.PositiveIntegerField(default=0)
    signals_found = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"detection run {self.pk} ({self.state})"


class Signal(models.Model):
    """A cluster found by a detector, with SaTScan's fields. Staff-only: never public."""

    class State(models.TextChoices):
        NEW = "new", _("new")
        DISMISSED = "dismissed", _("dismissed")
        DRAFTED = "drafted", _("alert drafted")

    detector = models.CharField(max_length=16, choices=Detector.choices)
    run = models.ForeignKey(DetectionRun, on_delete=models.SET_NULL, null=True, related_name="+")
    run_at = models.DateTimeField(db_index=True)
    category = models.CharField(max_length=64, blank=True)  # "" = all categories together
    locations = models.JSONField(default=list)  # H3 cells (scan) or an area code (CUSUM)
    locations_key = models.CharField(max_length=64)  # SHA-256 of the sorted locations
    area_name = models.CharField(max_length=200, blank=True)
    centre_latitude = models.FloatField()
    centre_longitude = models.FloatField()
    radius_km = models.FloatField()
    start_date = models.DateField()
    end_date = models.DateField()
    cases = models.PositiveIntegerField()
    expected = models.FloatField()
    observed_over_expected = models.FloatField()
    llr = models.FloatField()
    p_value = models.FloatField(null=True, blank=True)
    recurrence_days = models.FloatField(null=True, blank=True)
    rank = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-run_at", "detector", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["detector", "category", "locations_key", "start_date", "end_date"],
                name="detection_signal_once",
            )
        ]
        indexes = [models.Index(fields=["state", "recurrence_days"])]

    def __str__(self) -> str:
        return f"{self.detector} signal {self.pk}: {self.cases} cases to {self.end_date}"
