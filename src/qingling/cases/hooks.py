"""Extension points for the floors above ``cases``.

A lower floor never imports a higher one, yet the department tasks (``qingling.tasks``)
must follow a case's facts and may hold its clearance. They register here, once, from
their app's ``ready()``; the case services call the hooks inside their own transaction, so
a case and what hangs on it change together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from qingling.cases.models import Case

FactsHook = Callable[[Case, Any, datetime], object]
ClearanceGuard = Callable[[Case], list[str]]

_facts_hooks: list[FactsHook] = []
_clearance_guards: list[ClearanceGuard] = []


def on_facts_changed(hook: FactsHook) -> FactsHook:
    """``hook(case, actor, now)`` runs when a case reaches 核实挖矿 or its classification
    or routing changes."""
    if hook not in _facts_hooks:
        _facts_hooks.append(hook)
    return hook


def clearance_guard(guard: ClearanceGuard) -> ClearanceGuard:
    """``guard(case)`` returns the reasons the case may not be cleared (empty: none)."""
    if guard not in _clearance_guards:
        _clearance_guards.append(guard)
    return guard


def facts_changed(case: Case, actor: Any, now: datetime) -> None:
    for hook in _facts_hooks:
        hook(case, actor, now)


def clearance_blockers(case: Case) -> list[str]:
    return [reason for guard in _clearance_guards for reason in guard(case)]
