from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CityConfigConfig(AppConfig):
    name = "qingling.cityconfig"
    label = "cityconfig"
    verbose_name = _("City configuration")

    def ready(self) -> None:
        from qingling.audit.labels import labels_register

        labels_register(actions={"config_change": _("City configuration changed")})
