"""Bulk actions: the same move on many cases, previewed before it is made.

A bulk action is a check (why a case would be skipped) and an apply (the one-case service
that makes the move, audited per case). The preview runs every check without writing; the
confirmation runs them again inside one transaction, because the cases may have moved in
between, and reports what was done and what was skipped, and why. Apps above ``cases``
register their own actions (the city's lead triage in ``screening``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qingling.cases.models import Case
from qingling.cases.scope import visible_cases
from qingling.cases.services import (
    WorkflowError,
    assign_check,
    case_assign,
    case_by_reference,
    case_transition,
    lead_merge,
    merge_refusal,
    transition_refusal,
)
from qingling.cases.workflow import TRANSITIONS
from qingling.org.models import Profile
from qingling.org.scope import profile_of

# More than a county's week; a bigger selection is narrowed by a filter first.
BULK_LIMIT = 5000


@dataclass
class BulkParams:
    """What the user gave with the action (only what the action needs is read)."""

    comment: str = ""
    county_id: int | None = None
    counties: dict[int, int] = field(default_factory=dict)  # per-case choice (triage)
    decisions: dict[int, str] = field(default_factory=dict)  # per-case move (triage by row)
    assignee: Any = None
    into: str = ""  # the case a lead is merged into (reference)
    category: str = ""
    kind: str = ""

    def county_for(self, case: Case) -> int | None:
        return self.counties.get(case.pk) or self.county_id or case.county_id


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str | Promise
    done_label: str | Promise  # "Signed for": the flash message after it
    check: Callable[[Case, Profile, BulkParams], str | None]
    apply: Callable[[Case, Any, BulkParams, datetime], None]
    needs: tuple[str, ...] = ()  # inputs the preview asks for: comment, assignee, into, …
    irreversible: bool = False
    # Inputs chosen from a list (the category of an exclusion): name → [(value, label)].
    choices: Mapping[str, Sequence[tuple[str, Any]]] = field(default_factory=dict)


ACTIONS: dict[str, BulkAction] = {}


def bulk_register(action: BulkAction) -> None:
    ACTIONS[action.name] = action


def _transition_action(name: str, done: Promise, *, irreversible: bool = False) -> BulkAction:
    t = TRANSITIONS[name]

    def check(case: Case, profile: Profile, p: BulkParams) -> str | None:
        return transition_refusal(case, profile, t, comment=p.comment,
                                  county_id=p.county_for(case) if t.needs_county else None)

    def apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
        case_transition(case_id=case.pk, action=name, actor=actor, comment=p.comment,
                        county_id=p.county_for(case) if t.needs_county else None, now=now)

    return BulkAction(name, t.label, done, check, apply,
                      needs=("comment",) if t.needs_comment else (), irreversible=irreversible)


def _assign_check(case: Case, profile: Profile, p: BulkParams) -> str | None:
    return assign_check(case, profile, p.assignee)


def _assign_apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
    case_assign(case_id=case.pk, actor=actor, assignee_id=p.assignee.pk, now=now)


def merge_target(actor: Any, p: BulkParams) -> Case | None:
    return case_by_reference(actor, p.into) if p.into else None


def _merge_check(case: Case, profile: Profile, p: BulkParams) -> str | None:
    why = transition_refusal(case, profile, TRANSITIONS["merge_lead"], comment=p.comment)
    return why or merge_refusal(case, merge_target(profile.user, p))


def _merge_apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
    into = merge_target(actor, p)
    if into is None:
        raise WorkflowError(_("No such case in your area."))
    lead_merge(case_id=case.pk, into=into, actor=actor, reason=p.comment, now=now)


for _action in (
    _transition_action("dispatch", gettext_lazy("Dispatched")),
    _transition_action("sign", gettext_lazy("Signed for")),
    _transition_action("start_verification", gettext_lazy("Verification started")),
    _transition_action("request_clearance", gettext_lazy("Clearance requested")),
    _transition_action("clear", gettext_lazy("Cleared"), irreversible=True),
    _transition_action("send_back", gettext_lazy("Sent back")),
    BulkAction("assign", gettext_lazy("Assign to a verifier"), gettext_lazy("Assigned"),
               _assign_check, _assign_apply, needs=("assignee",)),
    BulkAction("merge_lead", TRANSITIONS["merge_lead"].label, gettext_lazy("Merged"),
               _merge_check, _merge_apply, needs=("into", "comment"), irreversible=True),
):
    bulk_register(_action)


@dataclass
class Skipped:
    case: Case | None
    ref: str
    reason: str


@dataclass
class BulkPlan:
    action: BulkAction
    eligible: list[Case] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _load(actor: Any, ids: Sequence[int]) -> tuple[list[Case], list[Skipped]]:
    wanted = list(dict.fromkeys(ids))[:BULK_LIMIT + 1]
    if len(wanted) > BULK_LIMIT:
        raise WorkflowError(_("At most %(n)s cases at once: narrow the filter.")
                            % {"n": BULK_LIMIT})
    found: dict[int, Case] = {}
    for i in range(0, len(wanted), 900):
        chunk = wanted[i:i + 900]
        found.update({c.pk: c for c in visible_cases(actor).filter(pk__in=chunk)
                      .select_related("county", "assignee")})
    missing = [Skipped(None, f"QL{i:07d}", _("No such case in your area."))
               for i in wanted if i not in found]
    return [found[i] for i in wanted if i in found], missing


def bulk_plan(*, actor: Any, action: str, ids: Sequence[int], params: BulkParams) -> BulkPlan:
    """What ``action`` would do to these cases: the ones it applies to and the ones it
    skips, each with its reason. Writes nothing."""
    act = ACTIONS.get(action)
    if act is None:
        raise WorkflowError(_("Unknown action: %(a)s") % {"a": action})
    profile = profile_of(actor)
    if profile is None:
        raise WorkflowError(_("You have no role in Qingling."))
    cases, missing = _load(actor, ids)
    plan = BulkPlan(act, skipped=missing)
    for case in cases:
        why = act.check(case, profile, params)
        if why is None:
            plan.eligible.append(case)
        else:
            plan.skipped.append(Skipped(case, case.reference, why))
    return plan


def bulk_apply(*, actor: Any, action: str, ids: Sequence[int], params: BulkParams,
               now: datetime) -> BulkPlan:
    """Make the move on every case it still applies to: one transaction for the whole
    batch (a failure half-way writes nothing), one audit entry per case (by each case's
    own service). A case someone moved since the preview is skipped with the reason."""
    with transaction.atomic():
        plan = bulk_plan(actor=actor, action=action, ids=ids, params=params)
        done: list[Case] = []
        for case in plan.eligible:
            try:
                with transaction.atomic():
                    plan.action.apply(case, actor, params, now)
                done.append(case)
            except WorkflowError as exc:
                plan.skipped.append(Skipped(case, case.reference, str(exc)))
        plan.eligible = done
    return plan
