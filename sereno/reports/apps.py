from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "sereno.reports"
    label = "reports"
    verbose_name = "Reports"
