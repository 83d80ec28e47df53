"""Reads of department tasks that span relations: a department's inbox, the week's table
by department."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet

from qingling.tasks.models import OPEN_TASK_STATES, DepartmentTask, TaskState
from qingling.tasks.services import visible_tasks

DUE_SOON = timedelta(days=2)


@dataclass
class TaskInbox:
    overdue: QuerySet[DepartmentTask]
    due_soon: QuerySet[DepartmentTask]
    open: QuerySet[DepartmentTask]
    waiting: QuerySet[DepartmentTask]
    done: QuerySet[DepartmentTask]


def task_inbox(user: Any, now: datetime, department: str = "") -> TaskInbox:
    qs = visible_tasks(user)
    if department:
        qs = qs.filter(department__code=department)
    active = qs.filter(state__in=(TaskState.TODO, TaskState.DOING))
    return TaskInbox(
        overdue=active.filter(due_at__lt=now).order_by("due_at", "id"),
        due_soon=active.filter(due_at__gte=now, due_at__lt=now + DUE_SOON).order_by("due_at"),
        open=active.filter(due_at__gte=now + DUE_SOON).order_by("due_at", "id"),
        waiting=qs.filter(state=TaskState.WAIVER_REQUESTED).order_by("due_at", "id"),
        done=qs.filter(state__in=(TaskState.DONE, TaskState.WAIVED)).order_by("-done_at", "-id"),
    )


def department_table(start: datetime, end: datetime, now: datetime) -> list[dict[str, Any]]:
    """Per department, for the week [start, end) seen at ``now``: tasks falling due in the
    week, those of them done (or waived) by ``now``, and every open task past its due date
    at ``now`` whatever week it fell due in."""
    stop = min(now, end)
    rows = (DepartmentTask.objects.exclude(state=TaskState.CANCELLED)
            .values("department__code", "department__name")
            .annotate(
                due=Count("id", filter=Q(due_at__gte=start, due_at__lt=end)),
                done=Count("id", filter=Q(due_at__gte=start, due_at__lt=end,
                                          state__in=(TaskState.DONE, TaskState.WAIVED),
                                          done_at__lte=now)),
                overdue=Count("id", filter=Q(state__in=OPEN_TASK_STATES, due_at__lt=stop)),
                open=Count("id", filter=Q(state__in=OPEN_TASK_STATES)))
            .order_by("department__code"))
    return [{"code": r["department__code"], "name": r["department__name"], "due": r["due"],
             "done": r["done"], "overdue": r["overdue"], "open": r["open"]} for r in rows]


def overdue_tasks(now: datetime) -> list[DepartmentTask]:
    return list(DepartmentTask.objects.filter(state__in=OPEN_TASK_STATES, due_at__lt=now)
                .select_related("department", "kind", "case").order_by("department__code",
                                                                       "due_at", "id"))
