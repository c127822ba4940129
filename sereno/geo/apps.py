from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "sereno.geo"
    label = "geo"
    verbose_name = "Geography"
