"""Reads that span relations: the case list with its filters, the dashboard, the inbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet

from qingling.cases.identity import MIN_ADDRESS_KEY, key_of, norm_subject
from qingling.cases.models import OPEN_STATES, Case, CaseKey, State
from qingling.cases.scope import visible_cases
from qingling.common.crypto import blind, norm
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.org.models import SubjectType
from qingling.org.scope import can_search_personal, profile_of

# Subjects whose name is a person's: never searchable by those who may not see it.
PERSON_TYPES = (SubjectType.RESIDENTIAL, SubjectType.UNKNOWN)

SORTS = {
    "id": "id",
    "-id": "-id",
    "due": "due_at",
    "-due": "-due_at",
    "updated": "updated_at",
    "-updated": "-updated_at",
    "state": "state",
    "-state": "-state",
    "grade": "grade",
    "-grade": "-grade",
    "county": "county__code",
    "-county": "-county__code",
}
LIST_FLAGS = {
    "key": "on_key_list",
    "stock": "on_stock_list",
    "full": "on_full_list",
    "new": "on_new_list",
    "monitoring": "found_by_monitoring",  # 监测发现: network or electricity screening
}


@dataclass
class CaseFilters:
    county: str = ""
    list_type: str = ""
    state: str = ""
    grade: str = ""
    subject_type: str = ""
    department: str = ""
    week: str = ""
    q: str = ""
    overdue: bool = False
    due: str = ""  # "week": falls due this week (dashboard)
    cleared: str = ""  # "week": cleared this week (dashboard)
    sort: str = "-id"

    @classmethod
    def from_params(cls, params: Any) -> CaseFilters:
        f = cls(**{k: params.get(k, "").strip() for k in (
            "county", "list_type", "state", "grade", "subject_type", "department", "week", "q",
        )})
        f.overdue = params.get("overdue") == "1"
        sort = params.get("sort", "-id")
        f.due = params.get("due", "") if params.get("due") in ("week",) else ""
        f.cleared = params.get("cleared", "") if params.get("cleared") in ("week",) else ""
        f.sort = sort if sort in SORTS else "-id"
        return f


def cases_filtered(user: Any, f: CaseFilters, now: datetime) -> QuerySet[Case]:
    qs = visible_cases(user)
    if f.county:
        qs = qs.filter(county__code=f.county)
    if f.list_type in LIST_FLAGS:
        qs = qs.filter(**{LIST_FLAGS[f.list_type]: True})
    if f.state == "open":
        qs = qs.filter(state__in=OPEN_STATES)
    elif f.state in State.values:
        qs = qs.filter(state=f.state)
    if f.grade:
        qs = qs.filter(grade=f.grade)
    if f.subject_type:
        qs = qs.filter(subject_type=f.subject_type)
    if f.department:
        # IN (subquery) rather than a correlated EXISTS: PostgreSQL hashes it once.
        co = Case.co_departments.through.objects.filter(department__code=f.department)
        qs = qs.filter(Q(lead_department__code=f.department) | Q(pk__in=co.values("case_id")))
    if f.week:
        # Through the reverse relation: cases sit below intake and never import it.
        qs = qs.filter(pk__in=Case.objects.filter(appearances__batch__week=f.week).values("pk"))
    if f.overdue:
        qs = qs.filter(state__in=OPEN_STATES, due_at__lt=now)
    if f.due == "week":
        # The dashboard's "due this week": open and not yet late.
        _, _start, end = week_bounds(now)
        qs = qs.filter(state__in=OPEN_STATES, due_at__gte=now, due_at__lt=end)
    if f.cleared == "week":
        _, start, end = week_bounds(now)
        qs = qs.filter(state=State.CLEARED, cleared_at__gte=start, cleared_at__lt=end)
    if f.q:
        q = f.q
        # IN (subquery) rather than a join (no DISTINCT over whole rows) or a correlated
        # EXISTS (PostgreSQL would run it once per case).
        by_ip = Case.ips.through.objects.filter(ipaddress__value=q).values("case_id")
        cond = Q(ip_summary__startswith=q) | Q(pk__in=by_ip) | Q(uscc=q.upper())
        if m := _REFERENCE.fullmatch(q.upper()):
            cond |= Q(pk=int(m.group(1)))
        if len(norm_subject(q)) >= MIN_ADDRESS_KEY:
            # An address is sealed too: found whole by its key (how identity keeps it).
            by_address = CaseKey.objects.filter(key=key_of("addr", norm_subject(q)))
            cond |= Q(pk__in=by_address.values("case_id"))
        personal = can_search_personal(profile_of(user))
        # Names, ID numbers and phones are sealed: found exactly by their blind indexes,
        # and by part of a name only by opening the names in the user's scope.
        exact = Q(name_index=blind(q, "subject_name"))
        if personal:
            # A personal-field search: the view audits it.
            exact |= Q(id_index=blind(q, "id_number")) | Q(phone_index=blind(q, "phone"))
        else:
            # A unit's name is public; a person's is not, not even one letter at a time.
            exact &= ~Q(subject_type__in=PERSON_TYPES)
        part = _names_containing(qs if personal else qs.exclude(subject_type__in=PERSON_TYPES), q)
        qs = qs.filter(cond | exact | Q(pk__in=part))
    return qs.select_related("county", "lead_department").order_by(SORTS[f.sort], "-id")


NAME_SCAN_LIMIT = 200_000
_REFERENCE = re.compile(r"QL0*(\d{1,12})")
_CODE_LIKE = re.compile(r"[0-9a-f.:/\-]+")


def _names_containing(qs: QuerySet[Case], q: str) -> list[int]:
    """Cases whose (sealed) name contains ``q``: opened here, never in the database."""
    needle = norm(q)
    if len(needle) < 2 or _CODE_LIKE.fullmatch(needle):
        return []  # an IP, a number or a code: never part of a name worth opening all for
    return [pk for pk, name in qs.values_list("pk", "subject_name")[:NAME_SCAN_LIMIT]
            if name and needle in norm(name)]


LIST_FIELDS = (
    "id", "subject_name", "address", "subject_type", "state", "grade", "due_at", "updated_at",
    "on_key_list", "on_stock_list", "on_full_list", "on_new_list", "found_by_monitoring",
    "rebound_count", "ip_summary", "last_week", "county__name", "county__code",
    "township__name", "lead_department__name", "lead_department__code",
    "assignee__username", "assignee__first_name", "assignee__last_name",
)


def case_page(qs: QuerySet[Case], number: Any, per_page: int = 50) -> Page[Case]:
    """One page of a filtered, sorted case list.

    Pages by ids first and loads the 50 rows afterwards: sorting narrow id rows stays fast
    where sorting whole case rows with their joins took 250 ms at 200,000 cases.
    """
    id_page: Page[Any] = Paginator(qs.values_list("pk", flat=True), per_page).get_page(number)
    ids = list(id_page.object_list)
    # Only what a row shows: no ID number or phone is read (nor decrypted) for a list.
    rows = (Case.objects.filter(pk__in=ids)
            .select_related("county", "township", "lead_department", "assignee")
            .only(*LIST_FIELDS))
    by_id = {c.pk: c for c in rows}
    id_page.object_list = [by_id[i] for i in ids]
    return id_page


@dataclass
class CountyRow:
    county: Division | None
    open: int = 0
    due_this_week: int = 0
    overdue: int = 0
    cleared_this_week: int = 0
    key_due: int = 0
    key_on_time: int = 0
    pending: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.key_on_time / self.key_due if self.key_due else None


def week_bounds(now: datetime) -> tuple[IsoWeek, datetime, datetime]:
    week = IsoWeek.of(now)
    start = week.start()
    return week, start, start + timedelta(days=7)


def dashboard(user: Any, now: datetime) -> tuple[IsoWeek, list[CountyRow], CountyRow]:
    """Per-county numbers for this week. 'Key due' counts key-list obligations whose
    cut-off falls in this week; 'on time' those of them cleared by their cut-off."""
    week, start, end = week_bounds(now)
    qs = visible_cases(user)
    open_q = Q(state__in=OPEN_STATES)
    key_due_q = Q(due_at__gte=start, due_at__lt=end)
    cleared_q = Q(state=State.CLEARED)
    rows = (
        qs.values("county")
        .annotate(
            open=Count("id", filter=open_q),
            pending=Count("id", filter=Q(state=State.PENDING)),
            due_this_week=Count("id", filter=open_q & Q(due_at__gte=now, due_at__lt=end)),
            overdue=Count("id", filter=open_q & Q(due_at__lt=now)),
            cleared_this_week=Count(
                "id", filter=cleared_q & Q(cleared_at__gte=start, cleared_at__lt=end)
            ),
            key_due=Count("id", filter=key_due_q & ~Q(state=State.EXCLUDED)),
            key_on_time=Count(
                "id",
                filter=key_due_q & cleared_q & Q(cleared_at__lte=F("due_at")),
            ),
        )
        .order_by()
    )
    by_county = {r["county"]: r for r in rows}
    out: list[CountyRow] = []
    keys = ("open", "due_this_week", "overdue", "cleared_this_week", "key_due",
            "key_on_time", "pending")
    for c in _counties_for(user):
        r = by_county.get(c.pk)
        out.append(CountyRow(c, **{k: (r or {}).get(k, 0) for k in keys}))
    if None in by_county:
        out.append(CountyRow(None, **{k: by_county[None].get(k, 0) for k in keys}))
    total = CountyRow(None, **{k: sum(getattr(r, k) for r in out) for k in keys})
    return week, out, total


def _counties_for(user: Any) -> list[Division]:
    from qingling.org.models import Role
    from qingling.org.scope import profile_of

    p = profile_of(user)
    counties = Division.objects.filter(parent__code=settings.QINGLING_CITY_CODE, level="county")
    if p is None:
        return []
    if p.county_id is not None and p.role != Role.CITY:
        return list(counties.filter(pk=p.county_id))
    return list(counties)


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    cases: QuerySet[Case]
    count: int = 0


WORK_STATES = (State.SIGNED, State.VERIFYING, State.CONFIRMED)


def inbox_tabs(user: Any, now: datetime) -> list[tuple[str, str, QuerySet[Case]]]:
    """The inbox as tabs by what this user can do now. A verifier's inbox is what the
    county named them for; a leader's is what is late or due."""
    from django.utils.translation import gettext as _

    from qingling.org.models import Role

    p = profile_of(user)
    qs = visible_cases(user)
    if p is None:
        return []
    open_q = Q(state__in=OPEN_STATES)
    overdue = ("overdue", _("Overdue"), qs.filter(open_q, due_at__lt=now))
    if p.role == Role.CITY:
        return [
            ("to_dispatch", _("To dispatch"), qs.filter(state=State.PENDING)),
            ("to_clear", _("Clearance to approve"), qs.filter(state=State.CLEARANCE_REQUESTED)),
            overdue,
        ]
    if p.role == Role.LEADER:
        return [overdue, ("due_soon", _("Due within two days"),
                          qs.filter(open_q, due_at__gte=now, due_at__lt=now + timedelta(days=2)))]
    if p.role == Role.VERIFIER:
        mine = qs.filter(assignee=user)
        return [
            ("to_verify", _("To verify"), mine.filter(state__in=WORK_STATES)),
            ("sent_back", _("Sent back"), mine.filter(open_q, sent_back_at__isnull=False)),
            ("overdue", _("Overdue"), mine.filter(open_q, due_at__lt=now)),
        ]
    return [
        ("to_sign", _("To sign for"), qs.filter(state=State.DISPATCHED)),
        ("to_verify", _("To verify"), qs.filter(state__in=WORK_STATES)),
        ("to_request", _("To request clearance"), qs.filter(state=State.RECTIFYING)),
        ("sent_back", _("Sent back"), qs.filter(open_q, sent_back_at__isnull=False)),
        overdue,
    ]


def inbox(user: Any, now: datetime) -> list[Tab]:
    """Every tab with its count (one query per tab, each on an index)."""
    return [Tab(k, label, q, q.count()) for k, label, q in inbox_tabs(user, now)]


def inbox_tab(user: Any, key: str, now: datetime) -> QuerySet[Case] | None:
    for k, _label, q in inbox_tabs(user, now):
        if k == key:
            return q
    return None


def lead_queue(user: Any) -> QuerySet[Case]:
    """监测发现 awaiting the city: leads the screening opened that nobody has dispatched."""
    return visible_cases(user).filter(state=State.PENDING).order_by("-id")


def selection(user: Any, source: str, params: Any, now: datetime) -> QuerySet[Case] | None:
    """"All matching the filter" of a list page, for a bulk action: the case list with its
    filters, an inbox tab, or the city's lead queue."""
    if source == "cases":
        return cases_filtered(user, CaseFilters.from_params(params), now)
    if source == "inbox":
        return inbox_tab(user, str(params.get("tab", "")), now)
    if source == "leads":
        return lead_queue(user)
    return None
