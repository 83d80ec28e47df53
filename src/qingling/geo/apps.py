from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GeoConfig(AppConfig):
    name = "qingling.geo"
    verbose_name = _("Divisions and places")
    label = "geo"
