from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Early-warning alerts: drafted and approved by two people, published as CAP 1.2 and
    Atom, fanned out to every subscriber whose area they touch."""

    name = "sereno.alerts"
    label = "alerts"
