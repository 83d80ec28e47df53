"""What a user is shown of a case's personal data (names, IDs, phones, addresses)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from qingling.cases.models import Case
from qingling.org.models import Profile, SubjectType
from qingling.org.scope import can_see_personal, mask_address, mask_id, mask_name, mask_phone


@dataclass(frozen=True)
class Personal:
    name: str
    id_number: str
    phone: str
    address: str
    masked: bool


def personal(case: Case, profile: Profile | None, revealed: bool = False) -> Personal:
    """Masked for every role unless ``revealed`` (the user gave a reason, and it was
    audited) and the role may see personal data at all."""
    if revealed and can_see_personal(profile):
        return Personal(case.subject_name, case.id_number, case.phone, case.address, False)
    # An organisation's name and address are public facts; a person's are not.
    person = case.subject_type in (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)
    shown = (mask_name(case.subject_name) if person else case.subject_name,
             mask_id(case.id_number), mask_phone(case.phone),
             mask_address(case.address) if person else case.address)
    real = (case.subject_name, case.id_number, case.phone, case.address)
    # "Masked" only when something is hidden: a unit's page with nothing personal on it
    # offers no reveal (and records none).
    return Personal(*shown, masked=shown != real)


@dataclass(frozen=True)
class CaseRow:
    """One row of a case table, every label worked out in the view: a list page shows 50
    rows of 70,000 and its template only prints."""

    case: Case
    name: str
    address: str
    township: str
    lists: str
    state: str
    due: str
    countdown: str
    overdue: bool
    assignee: str


def list_labels(case: Case, names: dict[str, str] | None = None) -> str:
    names = names or _list_names()
    parts = [names[k] for k, flag in (
        ("key", case.on_key_list), ("stock", case.on_stock_list), ("full", case.on_full_list),
        ("new", case.on_new_list), ("monitoring", case.found_by_monitoring)) if flag]
    return "、".join(parts)


def _list_names() -> dict[str, str]:
    from django.utils.translation import gettext as _

    from qingling.cases.models import ListType

    return {**{str(v): str(label) for v, label in ListType.choices},
            "monitoring": _("Found by monitoring")}


def countdown(due: datetime | None, now: datetime, is_open: bool) -> tuple[str, bool]:
    """"还剩 2 天 3 小时" or "逾期 5 天" for an open case with a due date."""
    from django.utils.translation import gettext as _

    if due is None or not is_open:
        return "", False
    late = now > due
    delta = (now - due) if late else (due - now)
    days, hours = delta.days, delta.seconds // 3600
    if days:
        span = _("%(d)s d %(h)s h") % {"d": days, "h": hours}
    else:
        span = _("%(h)s h %(m)s min") % {"h": hours, "m": delta.seconds % 3600 // 60}
    return (_("%(span)s overdue") if late else _("%(span)s left")) % {"span": span}, late


def case_rows(cases: Iterable[Case], profile: Profile | None, now: datetime) -> list[CaseRow]:
    """Rows of a list page. Only the name and address are read (masked as ``personal``
    masks them): a list never opens ID numbers or phones."""
    from django.utils import timezone

    from qingling.cases.models import State

    states = {str(v): str(label) for v, label in State.choices}
    lists = _list_names()
    out = []
    for c in cases:
        person = c.subject_type in (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)
        name = mask_name(c.subject_name) if person else c.subject_name
        address = mask_address(c.address) if person else c.address
        left, late = countdown(c.due_at, now, c.is_open())
        out.append(CaseRow(
            case=c, name=name, address=address,
            township=c.township.name if c.township_id and c.township else "",
            lists=list_labels(c, lists), state=states.get(c.state, c.state),
            due=f"{timezone.localtime(c.due_at):%Y-%m-%d %H:%M}" if c.due_at else "",
            countdown=left, overdue=late,
            assignee=c.assignee.get_username() if c.assignee_id and c.assignee else ""))
    return out
