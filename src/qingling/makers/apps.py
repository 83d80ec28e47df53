from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MakersConfig(AppConfig):
    name = "qingling.makers"
    verbose_name = _("Mining-machine makers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qingling.audit.labels import labels_register

        labels_register(actions={"maker_add": _("Maker registered"),
                                 "maker_item_add": _("Rectification item added"),
                                 "maker_item_done": _("Rectification item done"),
                                 "maker_item_reopen": _("Rectification item reopened")})
