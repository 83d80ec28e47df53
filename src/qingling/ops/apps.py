from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The operator's commands (init, demo, serve): the top floor, which may use every area."""

    name = "qingling.ops"
    label = "ops"
