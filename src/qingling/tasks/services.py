"""Writes of department tasks: the routing that creates them, their moves, the clearance
they hold. Each user-visible write is one function, one transaction, audited."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qingling.audit.services import audit_record
from qingling.cases.models import Case, State
from qingling.cases.services import WorkflowError, evidence_add
from qingling.common.weeks import SHANGHAI
from qingling.org.models import Department, Profile, Role
from qingling.org.scope import profile_of
from qingling.tasks.models import (
    OPEN_TASK_STATES,
    DepartmentTask,
    SensitiveMark,
    TaskKind,
    TaskRule,
    TaskState,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
# A case has work for the member units from 核实挖矿 until it is cleared.
WORKING_STATES = (State.CONFIRMED, State.RECTIFYING, State.CLEARANCE_REQUESTED)


class TaskError(WorkflowError):
    """A refused task action, with a message fit to show the user."""


@transaction.atomic
def tasks_load(directory: Path = DATA_DIR) -> dict[str, int]:
    """The defaults from the work plan's section 四: create what is missing, never overwrite
    what the city has edited (idempotent)."""
    made = {"kinds": 0, "rules": 0}
    with (directory / "task_kinds.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            _kind, created = TaskKind.objects.get_or_create(code=row["code"], defaults={
                "name": row["name"], "department": Department.objects.get(code=row["department"]),
                "due_days": int(row["due_days"]), "mandatory": row["mandatory"] == "1",
                "outcome_kind": row["outcome_kind"]})
            made["kinds"] += created
    with (directory / "task_rules.csv").open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            _rule, created = TaskRule.objects.get_or_create(
                kind=TaskKind.objects.get(code=row["kind"]), subject_type=row["subject_type"],
                behaviour=row["behaviour"], carrier=row["carrier"],
                when_sensitive=row["when_sensitive"] == "1", defaults={"note": row["note"]})
            made["rules"] += created
    return made


# --- routing -----------------------------------------------------------------------------

def rule_matches(rule: TaskRule, case: Case, sensitive: bool) -> bool:
    return ((not rule.subject_type or rule.subject_type == case.subject_type)
            and (not rule.behaviour or rule.behaviour == case.behaviour)
            and (not rule.carrier or rule.carrier in case.carrier)
            and (not rule.when_sensitive or sensitive))


def wanted_kinds(case: Case) -> dict[int, TaskRule]:
    """The task kinds a case's facts call for, each with the first rule that calls for it."""
    sensitive = SensitiveMark.objects.filter(case=case).exists()
    out: dict[int, TaskRule] = {}
    rules = (TaskRule.objects.filter(is_active=True, kind__is_active=True)
             .select_related("kind").order_by("id"))
    for rule in rules:
        if rule.kind_id not in out and rule_matches(rule, case, sensitive):
            out[rule.kind_id] = rule
    return out


def due_for(kind: TaskKind, now: datetime) -> datetime:
    """``due_days`` calendar days after the task is made, at the cut-off time of day
    (Beijing time), as the work group counts its deadlines."""
    day = now.astimezone(SHANGHAI).date() + timedelta(days=kind.due_days)
    return datetime.combine(day, settings.QINGLING_CUTOFF_TIME, SHANGHAI)


def tasks_sync(case: Case, actor: Any, now: datetime) -> list[DepartmentTask]:
    """Make the tasks a working case's facts call for (never twice per kind), and withdraw
    untouched ones the facts no longer call for. Called inside the case's transaction."""
    if case.state not in WORKING_STATES:
        return []
    wanted = wanted_kinds(case)
    existing = {t.kind_id: t for t in DepartmentTask.objects.filter(case=case)}
    made = []
    for kind_id, rule in wanted.items():
        if kind_id in existing:
            continue
        kind = rule.kind
        task = DepartmentTask.objects.create(
            case=case, kind=kind, department_id=kind.department_id, mandatory=kind.mandatory,
            due_at=due_for(kind, now), basis=rule.note[:300], created_at=now, updated_at=now)
        audit_record(actor=actor, action="task_create", obj=task, case=case, at=now,
                     to_state=TaskState.TODO, comment=rule.note,
                     data={"kind": kind.code, "department": kind.department.code,
                           "due": task.due_at.isoformat(), "mandatory": kind.mandatory})
        made.append(task)
    for kind_id, task in existing.items():
        if kind_id not in wanted and task.state == TaskState.TODO and task.source == "rule":
            n = DepartmentTask.objects.filter(pk=task.pk, state=TaskState.TODO).update(
                state=TaskState.CANCELLED, updated_at=now)
            if n == 1:
                audit_record(actor=actor, action="task_withdraw", obj=task, case=case, at=now,
                             from_state=TaskState.TODO, to_state=TaskState.CANCELLED,
                             data={"kind": task.kind.code})
    return made


def open_mandatory(case: Case) -> list[DepartmentTask]:
    return list(DepartmentTask.objects.filter(case=case, mandatory=True,
                                              state__in=OPEN_TASK_STATES)
                .select_related("department", "kind"))


def clearance_blockers(case: Case) -> list[str]:
    """销号 waits for every mandatory task to be done or waived by the city."""
    return [_("%(department)s has not finished “%(task)s”") % {
        "department": t.department.name, "task": t.kind.name} for t in open_mandatory(case)]


# --- moves ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Move:
    name: str
    label: Any
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]


MOVES: dict[str, Move] = {m.name: m for m in (
    Move("start", gettext_lazy("Start"), (TaskState.TODO,), TaskState.DOING, (Role.DEPARTMENT,)),
    Move("complete", gettext_lazy("Complete"), (TaskState.TODO, TaskState.DOING),
         TaskState.DONE, (Role.DEPARTMENT,)),
    Move("request_waiver", gettext_lazy("Request a waiver"), (TaskState.TODO, TaskState.DOING),
         TaskState.WAIVER_REQUESTED, (Role.DEPARTMENT,)),
    Move("approve_waiver", gettext_lazy("Approve the waiver"), (TaskState.WAIVER_REQUESTED,),
         TaskState.WAIVED, (Role.CITY,)),
    Move("reject_waiver", gettext_lazy("Refuse the waiver"), (TaskState.WAIVER_REQUESTED,),
         TaskState.DOING, (Role.CITY,)),
)}


def visible_tasks(user: Any) -> Any:
    """The tasks a user may see: a department officer its own department's (in its county,
    if it has one), the city and leaders all (a county leader its county's), a county
    officer or verifier their county's."""
    profile = profile_of(user)
    qs = DepartmentTask.objects.select_related("case", "case__county", "department", "kind")
    if profile is None:
        return qs.none()
    if profile.role == Role.DEPARTMENT:
        qs = qs.filter(department=profile.department)
        return qs.filter(case__county=profile.county) if profile.county_id else qs
    if profile.role in (Role.COUNTY, Role.VERIFIER):
        return qs.filter(case__county=profile.county)
    if profile.role == Role.LEADER:
        return qs.filter(case__county=profile.county) if profile.county_id else qs
    if profile.role == Role.CITY:
        return qs
    return qs.none()


def moves_for(task: DepartmentTask, profile: Profile | None) -> list[Move]:
    if profile is None:
        return []
    if profile.role == Role.DEPARTMENT and profile.department_id != task.department_id:
        return []
    return [m for m in MOVES.values() if task.state in m.sources and profile.role in m.roles]


def task_move(*, task_id: int, move: str, actor: Any, now: datetime | None = None,
              comment: str = "", outcome: str = "", institution: str = "",
              amount: Decimal | None = None, effective_on: date | None = None,
              upload: BinaryIO | None = None, upload_name: str = "") -> DepartmentTask:
    """One move of a task: started, completed with its outcome and evidence, a waiver
    requested (with its reason), approved or refused by the city. Compare-and-set on the
    state; audited on the case."""
    now = now or timezone.now()
    m = MOVES.get(move)
    if m is None:
        raise TaskError(_("Unknown action: %(a)s") % {"a": move})
    profile = profile_of(actor)
    with transaction.atomic():
        task = visible_tasks(actor).filter(pk=task_id).first()
        if task is None or profile is None:
            raise TaskError(_("No such task for you."))
        if m not in moves_for(task, profile):
            if profile.role not in m.roles or (profile.role == Role.DEPARTMENT
                                               and profile.department_id != task.department_id):
                raise TaskError(_("Your role (%(role)s) may not do “%(action)s”.") % {
                    "role": profile.get_role_display(), "action": m.label})
            raise TaskError(_("“%(action)s” is not possible while the task is “%(state)s”.")
                            % {"action": m.label, "state": task.get_state_display()})
        comment, outcome = comment.strip(), outcome.strip()
        changes: dict[str, Any] = {"state": m.target, "updated_at": now}
        if move == "complete":
            if not outcome:
                raise TaskError(_("Record what was done (the outcome)."))
            if upload is None and not task.evidence.exists():
                raise TaskError(_("Attach the evidence of what was done (photo or document)."))
            changes.update(outcome=outcome, institution=institution.strip()[:200],
                           amount=amount, effective_on=effective_on, done_at=now,
                           done_by=actor)
        if move == "request_waiver":
            if not comment:
                raise TaskError(_("Give the reason for the waiver."))
            changes["waiver_reason"] = comment
        if move == "reject_waiver" and not comment:
            raise TaskError(_("Give the reason for refusing the waiver."))
        if move == "approve_waiver":
            changes.update(done_at=now, done_by=actor)
        n = DepartmentTask.objects.filter(pk=task.pk, state=task.state).update(**changes)
        if n != 1:
            raise TaskError(_("The task was changed by someone else; reload and try again."))
        if upload is not None:
            ev = evidence_add(case_id=task.case_id, actor=actor, stream=upload,
                              original_name=upload_name or "upload",
                              caption=_("Evidence for “%(task)s”") % {"task": task.kind.name})
            task.evidence.add(ev)
        audit_record(actor=actor, action=f"task_{move}", obj=task, case=task.case, at=now,
                     from_state=task.state, to_state=m.target, comment=comment or outcome,
                     data={"kind": task.kind.code, "department": task.department.code,
                           **({"institution": institution, "amount": amount,
                               "effective_on": effective_on} if move == "complete" else {})})
        task.refresh_from_db()
    return task


def tasks_bulk_start(*, task_ids: list[int], actor: Any, now: datetime | None = None) -> int:
    """待办 → 办理中 for many tasks at once (each audited); the ones not to do are skipped."""
    now = now or timezone.now()
    started = 0
    for pk in task_ids:
        try:
            task_move(task_id=pk, move="start", actor=actor, now=now)
            started += 1
        except TaskError:
            continue
    return started


def sensitive_mark(*, case_id: int, actor: Any, reason: str,
                   now: datetime | None = None) -> SensitiveMark:
    """The city flags a case as sensitive: propaganda and the cyberspace office get their
    notes (when the routing table says so)."""
    now = now or timezone.now()
    reason = reason.strip()
    profile = profile_of(actor)
    if profile is None or profile.role != Role.CITY:
        raise TaskError(_("Only the city coordinator flags a case as sensitive."))
    if not reason:
        raise TaskError(_("Give the reason for flagging the case."))
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise TaskError(_("No such case in your area."))
        mark, created = SensitiveMark.objects.get_or_create(
            case=case, defaults={"reason": reason[:300], "marked_by": actor, "marked_at": now})
        if created:
            audit_record(actor=actor, action="mark_sensitive", obj=case, case=case, at=now,
                         comment=reason)
            tasks_sync(case, actor, now)
    return mark


def task_kind_update(*, actor: Any, kind_id: int, due_days: int, mandatory: bool,
                     is_active: bool, now: datetime | None = None) -> TaskKind:
    """The city edits a task kind: its due period, whether it holds clearance, whether it
    is made at all. Tasks already made keep their due date; audited with before and after."""
    now = now or timezone.now()
    profile = profile_of(actor)
    if profile is None or profile.role != Role.CITY:
        raise TaskError(_("Only the city coordinator edits the routing table."))
    if not 1 <= due_days <= 365:
        raise TaskError(_("The due period is 1 to 365 days."))
    with transaction.atomic():
        kind = TaskKind.objects.select_for_update().filter(pk=kind_id).first()
        if kind is None:
            raise TaskError(_("Unknown task kind."))
        before = {"due_days": kind.due_days, "mandatory": kind.mandatory,
                  "is_active": kind.is_active}
        after = {"due_days": due_days, "mandatory": mandatory, "is_active": is_active}
        if before == after:
            return kind
        TaskKind.objects.filter(pk=kind.pk).update(**after)
        audit_record(actor=actor, action="task_kind_update", obj=kind, at=now,
                     data={"code": kind.code, "before": before, "after": after})
        kind.refresh_from_db()
    return kind
