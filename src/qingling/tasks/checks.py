"""Power-market and support checks: the grid company or the DRC imports the power-market
trading participants, or the enterprises receiving fiscal, tax or land preferences; each
row is matched against the confirmed mining subjects by credit code, then name, then
address, and a match gives the responsible departments their task (取消交易资格; 停止和取消
优惠). Every row is kept with the rule that matched it, or none."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.models import Case, State
from qingling.intake.readers import ListFileError, canonical_field, read_rows
from qingling.org.models import Profile, Role
from qingling.org.scope import profile_of
from qingling.tasks.models import CheckList, CheckRow, DepartmentTask, TaskKind, TaskState
from qingling.tasks.services import WORKING_STATES, due_for

# What a match in each list calls for (task kind codes; defaults in data/task_kinds.csv).
CALLS_FOR: dict[str, tuple[str, ...]] = {
    CheckList.Kind.POWER_MARKET: ("drc_market",),
    CheckList.Kind.PREFERENCES: ("finance_support", "tax_support")}
IMPORTERS = ("grid", "drc")
# A task's basis is kept as the work group writes it (like the routing table's notes).
BASIS_LIST: dict[str, str] = {CheckList.Kind.POWER_MARKET: "电力市场交易主体名单",
                              CheckList.Kind.PREFERENCES: "享受财政、税收、用地优惠企业名单"}
BASIS_RULE = {"uscc": "统一社会信用代码相同", "name": "名称相同", "address": "地址相同"}
MAX_BYTES = 20 * 1024 * 1024
CONFIRMED = (*WORKING_STATES, State.CLEARED)
# An address shorter than this ("嘉兴市南湖区") places nothing: it is not matched on.
MIN_ADDRESS = 10


class CheckError(ValueError):
    """A refused import, with a message naming the file, row and field."""


def imports_checks(profile: Profile | None) -> bool:
    return profile is not None and (
        profile.role == Role.CITY
        or (profile.role == Role.DEPARTMENT and profile.department is not None
            and profile.department.code in IMPORTERS))


def _norm(text: str) -> str:
    return re.sub(r"[\s（）()·,，]", "", text).upper()


@dataclass(frozen=True)
class Entry:
    row: int
    name: str
    uscc: str
    address: str


def read_entries(data: bytes, file_name: str) -> list[Entry]:
    if len(data) > MAX_BYTES:
        raise CheckError(_("%(file)s is larger than %(mb)d MB.") % {
            "file": file_name, "mb": MAX_BYTES // (1024 * 1024)})
    try:
        _fmt, _enc, rows = read_rows(data)
    except (ListFileError, UnicodeError, ValueError) as exc:
        raise CheckError(_("%(file)s: %(error)s") % {"file": file_name, "error": exc}) from None
    header_at = next((i for i, (_n, cells) in enumerate(rows[:30])
                      if {"unit_name", "uscc"} & {canonical_field(c) for c in cells if c}), None)
    if header_at is None:
        raise CheckError(_("%(file)s: no header row with 企业名称 or 统一社会信用代码 in the "
                           "first 30 rows.") % {"file": file_name})
    headers = rows[header_at][1]
    cols: dict[str, int] = {}
    for i, h in enumerate(headers):
        # Registers name their address column in many ways (注册地址, 经营地址, 用电地址).
        f = canonical_field(h) or ("address" if "地址" in h else None)
        if f in ("unit_name", "uscc", "address") and f not in cols:
            cols[f] = i
    out = []
    for n, cells in rows[header_at + 1:]:
        def cell(f: str, cells: list[str] = cells) -> str:
            i = cols.get(f)
            return cells[i].strip() if i is not None and i < len(cells) else ""
        name, uscc, address = cell("unit_name"), cell("uscc").upper(), cell("address")
        if uscc and (len(uscc) != 18 or not uscc.isalnum()):
            raise CheckError(_("%(file)s row %(row)d, %(col)s: not an 18-character credit "
                               "code: %(value)s") % {"file": file_name, "row": n,
                                                      "col": "统一社会信用代码", "value": uscc})
        if not (name or uscc):
            raise CheckError(_("%(file)s row %(row)d: neither an enterprise name nor a credit "
                               "code.") % {"file": file_name, "row": n})
        out.append(Entry(n, name[:200], uscc, address[:300]))
    return out


class Matcher:
    """Confirmed mining subjects by credit code, name and address (names and addresses
    are sealed at rest: opened here, in memory, for the subjects in question only)."""

    def __init__(self) -> None:
        self.by: dict[str, dict[str, Case]] = {"uscc": {}, "name": {}, "address": {}}
        for c in Case.objects.filter(state__in=CONFIRMED).order_by("id"):
            if c.uscc:
                self.by["uscc"].setdefault(c.uscc.upper(), c)
            if c.subject_name:
                self.by["name"].setdefault(_norm(c.subject_name), c)
            if len(_norm(c.address)) >= MIN_ADDRESS:
                self.by["address"].setdefault(_norm(c.address), c)

    def match(self, e: Entry) -> tuple[Case | None, str]:
        for rule, key in (("uscc", e.uscc), ("name", _norm(e.name)),
                          ("address", _norm(e.address))):
            if key and key in self.by[rule] and (rule != "address" or len(key) >= MIN_ADDRESS):
                return self.by[rule][key], rule
        return None, ""


def check_import(*, actor: Any, kind: str, data: bytes, file_name: str,
                 now: datetime | None = None) -> tuple[CheckList, bool]:
    """Import and match one list (all rows or none); the same rows imported again are
    recognised and change nothing. Returns the list and whether it is new."""
    now = now or timezone.now()
    if not imports_checks(profile_of(actor)):
        raise CheckError(_("Only the grid company, the DRC and the city import these lists."))
    if kind not in CALLS_FOR:
        raise CheckError(_("Unknown list: %(k)s") % {"k": kind})
    entries = read_entries(data, file_name)
    digest = hashlib.sha256(json.dumps([[e.name, e.uscc, e.address] for e in entries],
                                       ensure_ascii=False).encode()).hexdigest()
    existing = CheckList.objects.filter(kind=kind, digest=digest).first()
    if existing is not None:
        return existing, False
    matcher = Matcher()
    kinds = list(TaskKind.objects.filter(code__in=CALLS_FOR[kind], is_active=True)
                 .select_related("department"))
    label = BASIS_LIST[kind]
    try:
        with transaction.atomic():
            cl = CheckList.objects.create(kind=kind, file_name=file_name[:200], digest=digest,
                                          rows=len(entries), imported_by=actor,
                                          imported_at=now)
            matched = 0
            for e in entries:
                case, rule = matcher.match(e)
                row = CheckRow.objects.create(check_list=cl, row_number=e.row, name=e.name,
                                              uscc=e.uscc, address=e.address, case=case,
                                              rule=rule)
                if case is None:
                    continue
                matched += 1
                if case.state not in WORKING_STATES:
                    continue  # cleared: recorded as a match, no new work on a closed case
                for k in kinds:
                    task, made = DepartmentTask.objects.get_or_create(
                        case=case, kind=k, defaults={
                            "department": k.department, "mandatory": k.mandatory,
                            "due_at": due_for(k, now), "source": "check",
                            "basis": f"{label}（{file_name[:80]} 第 {e.row} 行，"
                                     f"{BASIS_RULE[rule]}）"[:300],
                            "created_at": now, "updated_at": now})
                    row.tasks.add(task)
                    if made:
                        audit_record(actor=actor, action="task_create", obj=task, case=case,
                                     at=now, to_state=TaskState.TODO, comment=task.basis,
                                     data={"kind": k.code, "department": k.department.code,
                                           "check_list": cl.pk, "rule": rule})
            CheckList.objects.filter(pk=cl.pk).update(matched=matched)
            cl.matched = matched
            audit_record(actor=actor, action="check_import", obj=cl, at=now,
                         data={"kind": kind, "file": file_name, "rows": len(entries),
                               "matched": matched})
    except IntegrityError:
        return CheckList.objects.get(kind=kind, digest=digest), False
    return cl, True
