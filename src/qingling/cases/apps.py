from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "qingling.cases"
    label = "cases"
    verbose_name = "Cases"
