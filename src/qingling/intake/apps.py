from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "qingling.intake"
    verbose_name = _("Lists")
    label = "intake"
