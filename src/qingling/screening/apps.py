from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScreeningConfig(AppConfig):
    name = "qingling.screening"
    verbose_name = _("Screening")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qingling.audit.labels import labels_register
        from qingling.screening.triage import register

        labels_register(actions={
            "resolve_subscriber": _("Located through the carrier's subscriber records"),
            "exclude_endpoint": _("Remote endpoint kept as known benign"),
            "warning_add": _("Address added to the warning list"),
            "endpoint_save": _("Known-benign endpoint edited")})
        register()
