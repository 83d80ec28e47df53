"""The city's lead triage (监测发现): dispatch, exclude as a false lead, merge into an existing
case, or put the address on the warning list — one lead or many at once (``cases.bulk``).

An excluded lead's remote endpoints are kept as known-benign (``ExcludedEndpoint``, listed
and editable): the next network screening passes them to the engine, which no longer makes
a lead of a flow to them by its shape alone.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qingling.audit.services import audit_record
from qingling.cases.bulk import ACTIONS, BulkAction, BulkParams, bulk_register
from qingling.cases.models import Behaviour, Case, State, WarningEntry
from qingling.cases.scope import visible_cases
from qingling.cases.services import (
    WorkflowError,
    case_correct,
    case_transition,
    transition_refusal,
)
from qingling.cases.workflow import TRANSITIONS
from qingling.org.models import Profile, Role
from qingling.org.scope import profile_of
from qingling.screening.models import ExcludedEndpoint, Signal


def lead_endpoints(case: Case) -> list[tuple[str, int]]:
    """The remote endpoints (address, port) the lead's network signals talked to."""
    out: set[tuple[str, int]] = set()
    for pair in Signal.objects.filter(case=case, kind=Signal.Kind.NETWORK).values_list(
            "payload__pair", flat=True):
        parts = str(pair or "").split("|")
        if len(parts) >= 3 and parts[2].isdigit():
            try:
                out.add((str(ipaddress.ip_address(parts[1])), int(parts[2])))
            except ValueError:
                continue
    return sorted(out)


def _city(actor: Any) -> Profile:
    p = profile_of(actor)
    if p is None or p.role != Role.CITY:
        raise WorkflowError(_("Only the city coordinator triages monitoring leads."))
    return p


def lead_exclude(*, case_id: int, actor: Any, category: str, reason: str,
                 now: datetime | None = None) -> list[ExcludedEndpoint]:
    """排除(误报): close the lead with its reason and category; its remote endpoints become
    known-benign for later screenings (audited each)."""
    now = now or timezone.now()
    _city(actor)
    if category not in ExcludedEndpoint.Category.values:
        raise WorkflowError(_("Choose the category."))
    label = ExcludedEndpoint.Category(category).label
    with transaction.atomic():
        case = case_transition(case_id=case_id, action="dismiss_lead", actor=actor,
                               comment=f"{label}：{reason.strip()}", now=now)
        kept = []
        for ip, port in lead_endpoints(case):
            ep, made = ExcludedEndpoint.objects.get_or_create(
                ip=ip, port=port, defaults={"category": category, "reason": reason.strip()[:500],
                                            "case": case, "added_by": actor if actor else None,
                                            "created_at": now, "updated_at": now})
            if not made and not ep.is_active:
                ExcludedEndpoint.objects.filter(pk=ep.pk).update(is_active=True, updated_at=now)
            audit_record(actor=actor, action="exclude_endpoint", obj=ep, case=case, at=now,
                         comment=reason.strip(),
                         data={"ip": ip, "port": port, "category": category, "new": made})
            kept.append(ep)
    return kept


def lead_warn(*, case_id: int, actor: Any, kind: str, reason: str,
              now: datetime | None = None) -> list[WarningEntry]:
    """加入预警名单: the lead's addresses are a shared egress (a campus gateway, a government
    exit). They join the warning list, and the lead is marked 误报(共享出口) — it stays in the
    queue: the host behind the egress is still to be found."""
    now = now or timezone.now()
    _city(actor)
    if kind not in WarningEntry.Kind.values:
        raise WorkflowError(_("Choose the category."))
    with transaction.atomic():
        case = visible_cases(actor).select_for_update().filter(pk=case_id).first()
        if case is None:
            raise WorkflowError(_("No such case in your area."))
        ips = [ip for ip in case.ips.filter(is_range=False).values_list("value", flat=True)]
        if not ips:
            raise WorkflowError(_("The lead has no address to put on the warning list."))
        added = []
        for ip in ips:
            if WarningEntry.objects.filter(network=ip, is_active=True).exists():
                continue
            entry = WarningEntry.objects.create(network=ip, kind=kind, name=reason.strip()[:120],
                                                note=case.reference, added_by=actor,
                                                created_at=now)
            audit_record(actor=actor, action="warning_add", obj=entry, case=case, at=now,
                         comment=reason.strip(), data={"network": ip, "kind": kind})
            added.append(entry)
        if case.behaviour != Behaviour.FALSE_POSITIVE:
            case_correct(case_id=case.pk, actor=actor, reason=reason,
                         behaviour=Behaviour.FALSE_POSITIVE, now=now)
    return added


def excluded_for_screening() -> tuple[tuple[str, int], ...]:
    """The active known-benign endpoints, as the engine takes them."""
    return tuple(ExcludedEndpoint.objects.filter(is_active=True).order_by("ip", "port")
                 .values_list("ip", "port"))


def endpoint_save(*, actor: Any, ip: str, port: int, category: str, reason: str,
                  is_active: bool = True, pk: int | None = None,
                  now: datetime | None = None) -> ExcludedEndpoint:
    """Add or edit a known-benign endpoint by hand (city only; audited)."""
    now = now or timezone.now()
    _city(actor)
    try:
        ip = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        raise WorkflowError(_("%(ip)s is not an IP address.") % {"ip": ip}) from None
    if not 0 <= port < 65536:
        raise WorkflowError(_("A port is a number from 0 to 65535."))
    if category not in ExcludedEndpoint.Category.values:
        raise WorkflowError(_("Choose the category."))
    if not reason.strip():
        raise WorkflowError(_("Give the reason."))
    with transaction.atomic():
        others = ExcludedEndpoint.objects.filter(ip=ip, port=port)
        clash = (others if pk is None else others.exclude(pk=pk)).exists()
        if clash:
            raise WorkflowError(_("%(ip)s:%(port)s is already listed.") % {"ip": ip, "port": port})
        if pk is None:
            ep = ExcludedEndpoint.objects.create(ip=ip, port=port, category=category,
                                                 reason=reason.strip()[:500], added_by=actor,
                                                 is_active=is_active, created_at=now,
                                                 updated_at=now)
            before: dict[str, Any] = {}
        else:
            ep = ExcludedEndpoint.objects.select_for_update().get(pk=pk)
            before = {"ip": ep.ip, "port": ep.port, "category": ep.category,
                      "reason": ep.reason, "active": ep.is_active}
            ep.ip, ep.port, ep.category, ep.reason = ip, port, category, reason.strip()[:500]
            ep.is_active, ep.updated_at = is_active, now
            ep.save(update_fields=["ip", "port", "category", "reason", "is_active",
                                   "updated_at"])
        audit_record(actor=actor, action="endpoint_save", obj=ep, at=now, comment=reason,
                     data={"before": before, "after": {"ip": ip, "port": port,
                                                       "category": category,
                                                       "active": is_active}})
    return ep


# --- the triage moves as bulk actions -----------------------------------------------------

def _exclude_check(case: Case, profile: Profile, p: BulkParams) -> str | None:
    return transition_refusal(case, profile, TRANSITIONS["dismiss_lead"], comment=p.comment)


def _exclude_apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
    lead_exclude(case_id=case.pk, actor=actor, category=p.category, reason=p.comment, now=now)


def _warn_check(case: Case, profile: Profile, p: BulkParams) -> str | None:
    if profile.role != Role.CITY:
        return _("Only the city coordinator triages monitoring leads.")
    if case.state != State.PENDING:
        return _("“%(action)s” is not possible while the case is “%(state)s”.") % {
            "action": _("Add to the warning list"), "state": case.get_state_display()}
    if not case.ips.filter(is_range=False).exists():
        return _("The lead has no address to put on the warning list.")
    return None


def _warn_apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
    lead_warn(case_id=case.pk, actor=actor, kind=p.kind, reason=p.comment, now=now)


ROW_MOVES = ("dispatch", "exclude_lead")


def _by_row_check(case: Case, profile: Profile, p: BulkParams) -> str | None:
    move = p.decisions.get(case.pk, "")
    if move not in ROW_MOVES:
        return _("No move chosen on this row (dispatch or exclude).")
    return ACTIONS[move].check(case, profile, p)


def _by_row_apply(case: Case, actor: Any, p: BulkParams, now: datetime) -> None:
    ACTIONS[p.decisions[case.pk]].apply(case, actor, p, now)


def register() -> None:
    bulk_register(BulkAction(
        "exclude_lead", TRANSITIONS["dismiss_lead"].label, gettext_lazy("Excluded"),
        _exclude_check, _exclude_apply, needs=("comment",), irreversible=True,
        choices={"category": ExcludedEndpoint.Category.choices}))
    # Each ticked row's own move, in one confirmation: the leads the desk dispatches and the
    # ones it excludes (with the category and reason given for the exclusions).
    bulk_register(BulkAction(
        "triage_by_row", gettext_lazy("Each row's move (dispatch or exclude)"),
        gettext_lazy("Triaged"), _by_row_check, _by_row_apply, needs=("comment",),
        irreversible=True, choices={"category": ExcludedEndpoint.Category.choices}))
    bulk_register(BulkAction(
        "warn_lead", gettext_lazy("Add to the warning list"),
        gettext_lazy("Added to the warning list"), _warn_check, _warn_apply,
        needs=("comment",), choices={"kind": WarningEntry.Kind.choices}))
