from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "qingling.audit"
    label = "audit"
