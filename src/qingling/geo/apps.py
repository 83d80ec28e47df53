from django.apps import AppConfig


class GeoConfig(AppConfig):
    name = "qingling.geo"
    label = "geo"
