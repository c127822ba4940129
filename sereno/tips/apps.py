from django.apps import AppConfig


class TipsConfig(AppConfig):
    """The anonymous two-way tip line: encrypted to recipients' keys, receipts, no IP kept."""

    name = "sereno.tips"
    label = "tips"
