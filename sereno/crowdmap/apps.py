from django.apps import AppConfig


class CrowdmapConfig(AppConfig):
    """The public crowdmap: server-side map aggregation, the map page and the report form."""

    name = "sereno.crowdmap"
    label = "crowdmap"
