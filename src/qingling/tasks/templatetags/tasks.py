"""The case page's block of department tasks (the cases app never imports tasks: its page
includes this by name)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from qingling.org.models import Role
from qingling.org.scope import profile_of
from qingling.tasks.forms import SensitiveForm, TaskActForm
from qingling.tasks.models import DepartmentTask, SensitiveMark
from qingling.tasks.services import moves_for

register = template.Library()


@register.inclusion_tag("tasks/_case_tasks.html", takes_context=True)
def case_tasks(context: Any, case: Any) -> dict[str, Any]:
    request = context["request"]
    profile = profile_of(request.user)
    now = timezone.now()
    tasks = (DepartmentTask.objects.filter(case=case)
             .select_related("department", "kind", "done_by").prefetch_related("evidence")
             .order_by("department__code", "id"))
    rows = [{"task": t, "moves": moves_for(t, profile), "overdue": t.is_overdue(now)}
            for t in tasks]
    is_city = profile is not None and profile.role == Role.CITY
    return {"rows": rows, "form": TaskActForm(), "case": case, "request": request,
            "csrf_token": context.get("csrf_token"),
            "mark": SensitiveMark.objects.filter(case=case).first(),
            "sensitive_form": SensitiveForm() if is_city else None}
