from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "sereno.public"
    label = "public"
