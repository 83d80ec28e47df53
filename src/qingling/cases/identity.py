"""Case identity and fate: which case a subject or site belongs to, and what happens to that
case when something new points at it.

One home for a rule that list intake, the network/electricity/list screenings and the
city's manual reopen all need, so they cannot disagree:

- **Identity.** A subject is known by keys, strongest first: 统一社会信用代码 (``uscc:``),
  ID number (``id:``), carrier account (``account:``), meter (``meter:``), a unit's
  normalised name within its county (``name:``), the normalised address (``addr:``), and,
  only when nothing else names it, its IP (``ip:``). Every key a case has ever been known by
  is kept (``CaseKey``), so a list row carrying the ID number of a monitoring case finds it,
  and an electricity lead at the address of a key-list case joins that case.
- **Fate.** A signal or a listing on a cleared case reopens it as 反弹 with a fresh due date
  when it is a key-list item (the current week's cut-off); a re-listed open item keeps its
  first due date, so what is overdue stays overdue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F

from qingling.audit.services import audit_record
from qingling.cases.models import Case, CaseKey, IPAddress, State
from qingling.common.crypto import blind
from qingling.common.ips import parse_ip
from qingling.common.weeks import IsoWeek
from qingling.org.models import CitySetting

CHUNK = 900  # below SQLite's default limit on query parameters
_SPACE = re.compile(r"[\s\u3000（）()·,，。.]+")
_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
def is_id_number(text: str) -> bool:
    """A resident ID number (GB 11643): 17 digits with a birth date at 7–14, then a digit
    or X. The check digit is not required: registers carry typos, and a mistyped ID is
    still a person's, never a company's credit code."""
    t = text.strip().upper()
    if len(t) != 18 or not t[:17].isdigit() or not (t[17].isdigit() or t[17] == "X"):
        return False
    try:
        born = date(int(t[6:10]), int(t[10:12]), int(t[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def is_credit_code(text: str) -> bool:
    """A 统一社会信用代码 given where an ID number could be: the shape, and not an ID."""
    t = text.strip().upper()
    return bool(_USCC.fullmatch(t)) and not is_id_number(t)
_ID = re.compile(r"\d{17}[\dX]")
# Shorter than this, a normalised address names a road or a village, not one site.
MIN_ADDRESS_KEY = 8


def key_of(kind: str, value: str) -> str:
    """``kind:<blind index>``: how an ID number, account, meter or address is kept as a key."""
    return f"{kind}:{blind(value, 'key-' + kind)}"


def norm_subject(text: str) -> str:
    """How subject names and addresses are compared (and written into keys)."""
    return _SPACE.sub("", text).lower()


@dataclass(frozen=True)
class SubjectFacts:
    """What is known of who or where something points at."""

    uscc: str = ""
    id_number: str = ""  # an ID number, or a credit code given in the same field
    unit_name: str = ""
    address: str = ""
    county_code: str = ""
    account: str = ""
    meter_id: str = ""
    ip: str = ""
    residential: bool = False  # a person's name is not an identity; a unit's is
    # Particulars a new case takes (not identity).
    phone: str = ""
    county_id: int | None = None
    township_id: int | None = None
    carrier: str = ""
    listed_type: str = ""  # what a register calls the subject (家庭宽带, 企业专线…)

    def keys(self) -> list[str]:
        """Every key of this subject, strongest first; ``ip:`` only when nothing else."""
        out: list[str] = []
        ident = self.id_number.strip().upper()
        uscc = self.uscc.strip().upper() or (ident if is_credit_code(ident) else "")
        if uscc:
            out.append(f"uscc:{uscc}")
        # Keys that name a person or place hold a blind index, never the value itself.
        if ident and ident != uscc:
            out.append(key_of("id", ident))
        if self.account:
            out.append(key_of("account", self.account.strip()))
        if self.meter_id:
            out.append(key_of("meter", self.meter_id.strip()))
        name = norm_subject(self.unit_name)
        if name and not self.residential:
            out.append(f"name:{self.county_code or '-'}:{blind(name, 'key-name')}")
        address = norm_subject(self.address)
        if len(address) >= MIN_ADDRESS_KEY:
            out.append(key_of("addr", address))
        if not out and self.ip:
            out.append(f"ip:{parse_ip(self.ip).value}")
        return [k[:200] for k in out]

    def match_keys(self) -> list[str]:
        """The keys to look a case up by. A unit named by credit code or by name is not
        found by its address alone: several units share one building, one site does not
        share a unit's name."""
        keys = self.keys()
        named = any(k.startswith(("uscc:", "name:")) for k in keys)
        return [k for k in keys if not (named and k.startswith("addr:"))]


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def match_cases(subjects: Sequence[Sequence[str]]) -> list[Case | None]:
    """The case each subject (its keys, strongest first) already has, whatever source opened
    it; ``None`` for a new subject. A key shared by an old case and the later case that
    replaced it (a site found again after its watch) goes to the later one. An ``ip:``-only
    subject also finds the case its IP is already linked to."""
    wanted = sorted({k for keys in subjects for k in keys})
    owner: dict[str, int] = {}
    for chunk in _chunks(wanted):
        for key, case_id in (CaseKey.objects.filter(key__in=chunk)
                             .order_by("case_id").values_list("key", "case_id")):
            owner[key] = case_id  # ascending ids: the newest case wins
    ip_only = sorted({keys[0][3:] for keys in subjects
                      if len(keys) == 1 and keys[0].startswith("ip:") and keys[0] not in owner})
    by_ip: dict[str, int] = {}
    through = Case.ips.through
    for chunk in _chunks(ip_only):
        for value, case_id in (through.objects.filter(ipaddress__value__in=chunk)
                               .order_by("case_id").values_list("ipaddress__value", "case_id")):
            by_ip[value] = case_id
    picked: list[int | None] = []
    for keys in subjects:
        cid = next((owner[k] for k in keys if k in owner), None)
        if cid is None and len(keys) == 1 and keys[0].startswith("ip:"):
            cid = by_ip.get(keys[0][3:])
        picked.append(cid)
    cases: dict[int, Case] = {}
    ids = sorted({c for c in picked if c is not None})
    for chunk in _chunks(ids):
        cases.update({c.pk: c for c in Case.objects.filter(pk__in=chunk)})
    return [cases[c] if c is not None else None for c in picked]


def keys_record(pairs: Iterable[tuple[int, str]]) -> int:
    """Remember that these cases are known by these keys (idempotent)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return 0
    have: set[tuple[int, str]] = set()
    for chunk in _chunks(pairs):
        have.update(CaseKey.objects.filter(case_id__in={c for c, _ in chunk},
                                           key__in={k for _, k in chunk})
                    .values_list("case_id", "key"))
    new = [CaseKey(case_id=c, key=k) for c, k in pairs if (c, k) not in have]
    CaseKey.objects.bulk_create(new, batch_size=1000)
    return len(new)


def case_keys(case: Case) -> list[str]:
    """The keys a case's own particulars give it (beside those it was found by)."""
    facts = SubjectFacts(uscc=case.uscc, id_number=case.id_number, unit_name=case.subject_name,
                         address=case.address,
                         county_code=case.county.code if case.county_id and case.county else "",
                         residential=case.subject_type == "residential")
    return [k for k in facts.keys() if not k.startswith("ip:")]


# --- due dates -----------------------------------------------------------------------------

def cutoff_rule() -> tuple[int, time]:
    """The weekly cut-off as (ISO weekday, Beijing time): the city's setting where it set
    one, else the installation's default."""
    city = CitySetting.current()
    return (city.cutoff_weekday or settings.QINGLING_CUTOFF_WEEKDAY,
            city.cutoff_time if city.cutoff_time is not None else settings.QINGLING_CUTOFF_TIME)


def cutoff_of(week: IsoWeek) -> datetime:
    return week.cutoff(*cutoff_rule())


def current_cutoff(now: datetime) -> datetime:
    """The cut-off a key-list item reopened now must be cleared by: this week's, or next
    week's once this week's has passed (an item is never overdue the moment it reopens)."""
    week = IsoWeek.of(now)
    due = cutoff_of(week)
    return due if now <= due else cutoff_of(week.shift(1))


def reopen_due(case: Case, now: datetime, listed_due: datetime | None = None) -> datetime | None:
    """The due date of a cleared case that comes back: a key-list item is due at the cut-off
    of the list that names it again, else at the current cut-off; other items have none."""
    if listed_due is not None:
        return listed_due
    return current_cutoff(now) if case.on_key_list else None


# --- fate ----------------------------------------------------------------------------------

def watch_ended(case: Case, now: datetime) -> bool:
    """回头看: within the watch a signal reopens the cleared case; after it, a new case."""
    watch = timedelta(weeks=settings.QINGLING_REBOUND_WATCH_WEEKS)
    return case.cleared_at is None or now - case.cleared_at > watch


def case_reopen(case: Case, *, now: datetime, actor: Any, comment: str, action: str = "rebound",
                listed_due: datetime | None = None, extra: dict[str, Any] | None = None,
                target: str | None = None) -> bool:
    """Reopen a cleared case as 反弹 (compare-and-set on its state; audited). Returns False
    when someone else moved it first."""
    target = target or (State.DISPATCHED if case.county_id else State.PENDING)
    due = reopen_due(case, now, listed_due)
    changed = Case.objects.filter(pk=case.pk, state=State.CLEARED).update(
        state=target, cleared_at=None, rebound_count=F("rebound_count") + 1, due_at=due,
        updated_at=now, **(extra or {}))
    if changed != 1:
        return False
    audit_record(actor=actor, action=action, obj=case, case=case, at=now,
                 from_state=State.CLEARED, to_state=target, comment=comment,
                 data={"due_at": due.isoformat() if due else None})
    case.refresh_from_db()
    return True


def evidence_seen(case_ids: Iterable[int], at: datetime | None) -> None:
    """The earliest evidence of mining on these cases is at ``at`` or before (energy counts
    from it)."""
    if at is None:
        return
    ids = sorted(set(case_ids))
    for chunk in _chunks(ids):
        Case.objects.filter(pk__in=chunk, first_evidence_at__isnull=True).update(
            first_evidence_at=at)
        Case.objects.filter(pk__in=chunk, first_evidence_at__gt=at).update(first_evidence_at=at)


def link_ip(case: Case, ip: str, now: datetime) -> None:
    parsed = parse_ip(ip)
    obj, made = IPAddress.objects.get_or_create(
        value=parsed.value, defaults={"version": parsed.version, "is_range": parsed.is_range,
                                      "special": parsed.special, "first_seen_at": now,
                                      "last_seen_at": now})
    if not made:
        IPAddress.objects.filter(pk=obj.pk, last_seen_at__lt=now).update(last_seen_at=now)
    case.ips.add(obj)
    values = list(case.ips.values_list("value", flat=True)[:3])
    Case.objects.filter(pk=case.pk).update(ip_summary=", ".join(values)[:120])


def signal_attach(facts: SubjectFacts, *, now: datetime, actor: Any, reason: str,
                  observed_at: datetime | None = None, shared: str | None = None,
                  source: str = "monitoring") -> tuple[Case, str]:
    """The case a monitoring signal (or, later, a public report) belongs to:
    (case, 'created' | 'updated' | 'rebound' | 'new_after_watch'). Within the rebound watch
    a cleared case reopens as 反弹; after it, a new case is opened and linked to the old.
    ``shared`` names a known shared egress the signal came through: a new case is then a
    误报(共享出口) candidate that needs host-level evidence."""
    from qingling.cases.classify import Classifier, Router
    from qingling.cases.models import Behaviour

    keys = facts.keys()
    case = match_cases([keys])[0]
    week = str(IsoWeek.of(now))
    previous = None
    if case is not None and case.state == State.CLEARED:
        if not watch_ended(case, now):
            assert case.cleared_at is not None
            days = (now - case.cleared_at).days
            case_reopen(case, now=now, actor=actor,
                        comment=f"回头看：清零后 {days} 天再现挖矿信号。{reason}",
                        extra={"found_by_monitoring": True, "last_week": week})
            _remember(case, keys, facts.ip, now, observed_at)
            return case, "rebound"
        previous, case = case, None
    if case is not None:
        Case.objects.filter(pk=case.pk).update(found_by_monitoring=True, updated_at=now)
        Case.objects.filter(pk=case.pk, last_week__lt=week).update(last_week=week)
        _remember(case, keys, facts.ip, now, observed_at)
        return case, "updated"
    cls = Classifier.load().classify({
        "unit_name": facts.unit_name, "address": facts.address, "type": facts.listed_type,
        "carrier": facts.carrier, "uscc": facts.uscc, "machines": "", "special": "",
        "list_type": source})
    behaviour = Behaviour.FALSE_POSITIVE if shared else cls.behaviour
    route = Router.load().route(cls.subject_type, behaviour)
    ident = facts.id_number.strip().upper()
    case = Case.objects.create(
        subject_key=keys[0], subject_name=facts.unit_name[:200],
        uscc=(facts.uscc or (ident if is_credit_code(ident) else ""))[:18],
        id_number="" if is_credit_code(ident) else ident[:18],
        phone=facts.phone[:30], address=facts.address[:300], county_id=facts.county_id,
        township_id=facts.township_id, carrier=facts.carrier[:40],
        subject_type=cls.subject_type, behaviour=behaviour, grade=cls.grade,
        classification=cls.matched + ([f"共享出口：{shared}（需主机级证据）"] if shared else []),
        lead_department_id=route.lead_id,
        # Found by monitoring: the city confirms before anything is dispatched.
        state=State.PENDING, found_by_monitoring=True, previous_case=previous,
        first_week=week, last_week=week, created_at=now, updated_at=now)
    if route.co_ids:
        case.co_departments.set(sorted(route.co_ids))
    _remember(case, keys, facts.ip, now, observed_at)
    audit_record(actor=actor, action="create", obj=case, case=case, at=now, to_state=case.state,
                 comment=reason, data={"previous_case": previous.pk if previous else None})
    return case, "new_after_watch" if previous else "created"


def _remember(case: Case, keys: list[str], ip: str, now: datetime,
              observed_at: datetime | None) -> None:
    keys_record((case.pk, k) for k in keys)
    if ip:
        link_ip(case, ip, now)
    evidence_seen([case.pk], observed_at)
