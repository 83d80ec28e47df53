from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksConfig(AppConfig):
    name = "qingling.tasks"
    verbose_name = _("Department tasks")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models import Q

        from qingling.audit.labels import labels_register
        from qingling.cases.hooks import clearance_guard, on_facts_changed
        from qingling.org.models import Profile
        from qingling.org.scope import department_scope_extend
        from qingling.tasks import services
        from qingling.tasks.models import TaskState

        on_facts_changed(services.tasks_sync)
        clearance_guard(services.clearance_blockers)

        def task_cases(profile: Profile) -> Q:
            # A department sees the cases it has a task on, whoever leads them.
            return Q(department_tasks__department=profile.department)

        department_scope_extend(task_cases)
        labels_register(
            actions={"task_create": _("Department task created"),
                     "task_withdraw": _("Department task withdrawn"),
                     "task_start": _("Department task started"),
                     "task_complete": _("Department task done"),
                     "task_request_waiver": _("Waiver requested for a department task"),
                     "task_approve_waiver": _("Department task waived"),
                     "task_reject_waiver": _("Waiver refused"),
                     "mark_sensitive": _("Flagged as sensitive"),
                     "task_kind_update": _("Task routing changed")},
            states={k: v for k, v in TaskState.choices if k != TaskState.DONE})
