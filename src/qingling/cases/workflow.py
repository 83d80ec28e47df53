"""The case state machine: every allowed move, who may make it, and what it needs.

Written as data so the UI shows exactly the actions a user may take and the service
refuses everything else with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from qingling.cases.models import State
from qingling.org.models import Role

ACTING = (Role.COUNTY, Role.DEPARTMENT)


@dataclass(frozen=True)
class Transition:
    name: str
    label: Promise
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...]
    needs_comment: bool = False
    needs_evidence: bool = False
    needs_visit: bool = False
    needs_county: bool = False
    # A move made from the city's triage desk (it needs what only that page asks for).
    desk_only: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition(
            "dispatch", _("Dispatch to county"), (State.PENDING,), State.DISPATCHED,
            (Role.CITY,), needs_county=True,
        ),
        Transition("sign", _("Sign for"), (State.DISPATCHED,), State.SIGNED, ACTING),
        Transition(
            "start_verification", _("Start on-site verification"), (State.SIGNED,),
            State.VERIFYING, (*ACTING, Role.VERIFIER),
        ),
        Transition(
            "confirm", _("Confirm mining"), (State.VERIFYING,), State.CONFIRMED,
            (*ACTING, Role.VERIFIER), needs_visit=True,
        ),
        Transition(
            "start_rectification", _("Start rectification"), (State.CONFIRMED,),
            State.RECTIFYING, ACTING,
        ),
        Transition(
            "request_clearance", _("Request clearance"), (State.RECTIFYING,),
            State.CLEARANCE_REQUESTED, ACTING, needs_evidence=True,
        ),
        Transition(
            "clear", _("Clear (销号)"), (State.CLEARANCE_REQUESTED,), State.CLEARED,
            (Role.CITY,), needs_evidence=True,
        ),
        Transition(
            "send_back", _("Send back"), (State.CLEARANCE_REQUESTED,), State.RECTIFYING,
            (Role.CITY,), needs_comment=True,
        ),
        Transition(
            "exclude", _("Exclude (not mining)"), (State.VERIFYING,), State.EXCLUDED,
            (*ACTING, Role.CITY), needs_comment=True, needs_evidence=True, needs_visit=True,
        ),
        Transition(
            # 排除(误报) at the city's desk: a monitoring lead shown false before anyone was
            # sent (an IoT heartbeat, a P2P client); the reason and its category are kept.
            "dismiss_lead", _("Exclude as false lead"), (State.PENDING,), State.EXCLUDED,
            (Role.CITY,), needs_comment=True, desk_only=True,
        ),
        Transition(
            # 合并到已有案件: the lead is the same subject as an existing case.
            "merge_lead", _("Merge into an existing case"), (State.PENDING,), State.EXCLUDED,
            (Role.CITY,), needs_comment=True, desk_only=True,
        ),
        Transition(
            "reopen_excluded", _("Send back exclusion"), (State.EXCLUDED,), State.VERIFYING,
            (Role.CITY,), needs_comment=True,
        ),
        Transition(
            "reopen", _("Reopen as rebound (反弹)"), (State.CLEARED,), State.DISPATCHED,
            (Role.CITY,), needs_comment=True,
        ),
    )
}
