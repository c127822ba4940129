from django.apps import AppConfig


class CrowdmapConfig(AppConfig):
    """The public crowdmap: server-side map aggregation, the map page and the report form."""

    name = "sereno.crowdmap"
    label = "crowdmap"

    def ready(self):
        from sereno.geo.signals import reports_relocated

        reports_relocated.connect(_recount_after_relocation, dispatch_uid="crowdmap-relocation")


def _recount_after_relocation(sender, changed: int, **kwargs) -> None:
    """Relocation rewrites reports' areas in bulk, outside the services that keep the map's
    counts per department and municipality exact: recount them."""
    from sereno.crowdmap.services import map_rebuild

    map_rebuild()
