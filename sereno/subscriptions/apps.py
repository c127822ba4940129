from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    """Who wants early-warning alerts for which area, on which channel, in which language."""

    name = "sereno.subscriptions"
    label = "subscriptions"
