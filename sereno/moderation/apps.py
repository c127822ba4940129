from django.apps import AppConfig


class ModerationConfig(AppConfig):
    """The staff moderation desk (server-rendered pages with htmx)."""

    name = "sereno.moderation"
    label = "moderation"
