from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "qingling.intake"
    label = "intake"
