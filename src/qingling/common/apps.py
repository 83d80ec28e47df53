from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "qingling.common"
    label = "common"
