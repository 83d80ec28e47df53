from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntakeConfig(AppConfig):
    name = "qingling.intake"
    verbose_name = _("Lists")
    label = "intake"

    def ready(self) -> None:
        from qingling.jobs import registry

        # Imports run one at a time, whoever starts them (page, command or worker).
        registry.register("import_list", "qingling.intake.jobs.run_import", lane="lists",
                          template="intake/import_job.html")
        # A preview only reads: it does not wait for an import to finish.
        registry.register("import_preview", "qingling.intake.jobs.run_preview", lane="preview",
                          template="intake/preview_job.html")
