from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "qingling.org"
    verbose_name = _("Organisation and roles")
    label = "org"
