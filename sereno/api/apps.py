from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "sereno.api"
    label = "api"
