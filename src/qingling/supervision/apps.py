from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupervisionConfig(AppConfig):
    name = "qingling.supervision"
    verbose_name = _("Supervision")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from qingling.audit.labels import labels_register
        from qingling.supervision.models import Escalation

        # An escalation about one case shows its moves on the case's timeline.
        labels_register(
            actions={"escalation_approve": _("Escalation approved"),
                     "escalation_dismiss": _("Escalation dismissed"),
                     "escalation_done": _("Escalation done"),
                     "tariff_account_add": _("Electricity account registered"),
                     "billing_cycle_add": _("Billing cycle added")},
            states=dict(Escalation.Status.choices))
