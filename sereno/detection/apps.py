from django.apps import AppConfig


class DetectionConfig(AppConfig):
    """Automatic detection of emerging clusters: space-time permutation scan and CUSUM."""

    name = "sereno.detection"
    label = "detection"
