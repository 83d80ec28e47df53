from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "qingling.org"
    label = "org"
