"""Every write of the supervision area: the weekly close, escalations, document numbers,
reference data. Each runs in one transaction and leaves an audit entry."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from qingling.audit.services import audit_record
from qingling.cases.models import Case
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.org.models import Department
from qingling.supervision import figures as fig
from qingling.supervision.models import (
    CountyWorkGroup,
    DocumentSequence,
    DoublingRule,
    EnergyFactor,
    Escalation,
    MachineModel,
    TariffRate,
    WeeklyClose,
)

DATA_DIR = Path(__file__).parent / "data"


class CloseError(Exception):
    pass


def reference_load() -> dict[str, int]:
    """Dated energy coefficients, doubling rules and surcharge rates (idempotent: existing dates are kept,
    so an administrator's corrections survive `qingling init`)."""
    added = {"factors": 0, "rates": 0, "doubling": 0, "machines": 0}
    with open(DATA_DIR / "machine_models.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            _, made = MachineModel.objects.get_or_create(name=row["name"], defaults={
                "aliases": row["aliases"], "algorithm": row["algorithm"],
                "hashrate": Decimal(row["hashrate"]), "unit": row["unit"],
                "kw": Decimal(row["kw"]), "source": row["source"]})
            added["machines"] += made
    with open(DATA_DIR / "doubling_rules.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            _, made = DoublingRule.objects.get_or_create(
                valid_from=date.fromisoformat(row["valid_from"]),
                defaults={"rule": row["rule"], "source": row["source"]})
            added["doubling"] += made
    with open(DATA_DIR / "energy_factors.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            _, made = EnergyFactor.objects.get_or_create(
                valid_from=date.fromisoformat(row["valid_from"]),
                defaults={"tce_per_kwh": Decimal(row["tce_per_kwh"]),
                          "tco2_per_kwh": Decimal(row["tco2_per_kwh"]), "source": row["source"]})
            added["factors"] += made
    with open(DATA_DIR / "tariff_rates.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            _, made = TariffRate.objects.get_or_create(
                province_code=row["province_code"], valid_from=date.fromisoformat(row["valid_from"]),
                defaults={"province_name": row["province_name"],
                          "yuan_per_kwh": Decimal(row["yuan_per_kwh"]), "source": row["source"]})
            added["rates"] += made
    return added


def weekly_close(week: IsoWeek, now: datetime, actor: Any = None,
                 early: bool = False) -> tuple[WeeklyClose, bool]:
    """Freeze the week's figures. At or after the cut-off the close is final: it proposes
    the week's escalations, freezes the trend it reports, and closing again returns it and
    changes nothing. Before the cut-off (``early``) it is a draft that each early close
    recomputes and that proposes nothing."""
    existing = WeeklyClose.objects.filter(week=str(week)).first()
    if existing is not None and existing.final:
        return existing, False
    cutoff = fig.cutoff_of(week)
    final = now >= cutoff
    if not final and not early:
        raise CloseError(_("%(week)s closes at its cut-off %(cutoff)s (Beijing time); it is "
                           "not yet reached") % {"week": week, "cutoff": fig.local(cutoff)})
    figures = fig.compute(week, now)
    user = actor if _is_user(actor) else None
    try:
        with transaction.atomic():
            if existing is None:
                close = WeeklyClose.objects.create(week=str(week), cutoff=cutoff, closed_at=now,
                                                   closed_by=user, figures=figures, final=final)
            else:
                # Compare-and-set: only a draft is recomputed, and only once at a time.
                n = WeeklyClose.objects.filter(pk=existing.pk, final=False).update(
                    figures=figures, closed_at=now, closed_by=user, final=final)
                if n != 1:
                    return WeeklyClose.objects.get(week=str(week)), False
                close = WeeklyClose.objects.get(pk=existing.pk)
            proposed = 0
            if final:
                close.figures = {**figures, "trend": fig.trend(until=str(week))}
                proposed = propose_escalations(close)
                close.figures["escalations"] = escalation_snapshot(close.week)
                close.save(update_fields=["figures"])
            audit_record(actor=actor, action="weekly_close" if final else "weekly_close_draft",
                         obj=close, at=now,
                         data={"week": str(week), "final": final, "escalations": proposed,
                               "key_on_time_rate": figures["city"]["on_time_rate"],
                               "key_overdue": figures["city"]["key_overdue"],
                               "stock_open": figures["city"]["stock_open"]})
    except IntegrityError:
        # Another close of the same week won the race: that one is the record.
        return WeeklyClose.objects.get(week=str(week)), False
    return close, True


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def work_group(county: Division) -> str:
    """Who answers for a county's overdue key-list items: its work group's principal."""
    wg = CountyWorkGroup.objects.filter(county=county).first()
    if wg is None:
        return f"{CountyWorkGroup.default_name(county)}主要负责人"
    return wg.principal or f"{wg.name}主要负责人"


def _item_line(items: list[dict[str, Any]]) -> str:
    parts = [f"{i['ref']}（IP {i['ip']}，应于 {i['due_local']} 前清零"
             + (f"，已逾期 {i['weeks_overdue']} 周" if i["weeks_overdue"] else "") + "）"
             for i in items]
    return "；".join(parts)


def propose_escalations(close: WeeklyClose) -> int:
    """As the plan says (五(四)): one 约谈 per responsible unit and week, listing its overdue
    key-list items — the county's work group for items dispatched to it, and also the
    subject unit's principal where the subject is a state organ, state-owned unit, school or
    hospital; 全市通报 and informing the local government leaders for each county whose
    stock rose or stayed high."""
    counties = {d.code: d for d in Division.objects.filter(level="county")}
    week = close.week
    made = 0
    by_county: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_unit: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for item in close.figures["overdue_items"]:
        if item["county"] not in counties:
            continue  # not yet dispatched: the city itself owns it
        by_county[item["county"]].append(item)
        if item["subject_type"] in fig.PUBLIC_SECTOR and item["subject"]:
            by_unit[(item["county"], item["subject"])].append(item)
    for code, items in sorted(by_county.items()):
        county = counties[code]
        basis = (f"{len(items)} 项重点名单事项逾期未清零：{_item_line(items)}")
        made += _propose(week, Escalation.Kind.INTERVIEW, county, f"wg:{code}", None,
                         work_group(county), basis, items)
    for (code, unit), items in sorted(by_unit.items()):
        county = counties[code]
        tag = hashlib.sha256(unit.encode()).hexdigest()[:16]
        basis = f"本单位 {len(items)} 项重点名单事项逾期未清零：{_item_line(items)}"
        made += _propose(week, Escalation.Kind.INTERVIEW, county, f"unit:{tag}", None,
                         f"{unit}主要负责人", basis, items)
    by_department: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in close.figures.get("overdue_tasks", []):
        by_department[t["department"]].append(t)
    departments = {d.code: d for d in Department.objects.filter(code__in=by_department)}
    for code, tasks in sorted(by_department.items()):
        dept = departments[code]
        lines = "；".join(f"{t['ref']} {t['kind']}（应于 {t['due_local']} 前办结"
                         + (f"，已逾期 {t['weeks_overdue']} 周" if t["weeks_overdue"] else "")
                         + "）" for t in tasks)
        made += _propose(week, Escalation.Kind.INTERVIEW, None, f"dept:{code}", dept.pk,
                         f"{dept.name}主要负责人", f"{len(tasks)} 项部门任务逾期未办结：{lines}",
                         [{"case": t["case"], "ref": t["ref"], "ip": "",
                           "due_local": t["due_local"], "weeks_overdue": t["weeks_overdue"]}
                          for t in tasks])
    for row in close.figures["counties"]:
        named = counties.get(row["code"])
        if named is None or not (row["stock_rose"] or row["stock_high"]):
            continue
        county = named
        if row["stock_rose"]:
            basis = f"存量名单由 {row['stock_prev']} 条增至 {row['stock_open']} 条（不降反升）"
        else:
            basis = f"存量名单 {row['stock_open']} 条，居高不下"
        made += _propose(week, Escalation.Kind.CITY_NOTICE, county, "stock", None,
                         county.name, basis)
        made += _propose(week, Escalation.Kind.INFORM_LEADERS, county, "stock", None,
                         f"{county.name}人民政府领导", basis)
    return made


def _propose(week: str, kind: str, county: Division | None, cause: str,
             department_id: int | None, subject: str, basis: str,
             items: list[dict[str, Any]] | None = None) -> int:
    key = f"{week}:{kind}:{county.code if county else 'city'}:{cause}"
    first = items[0]["case"] if items and len(items) == 1 else None
    _, made = Escalation.objects.get_or_create(
        key=key, defaults={"week": week, "kind": kind, "county": county, "case_id": first,
                           "department_id": department_id, "subject": subject, "basis": basis,
                           "items": [{k: i[k] for k in ("case", "ref", "ip", "due_local",
                                                        "weeks_overdue")} for i in items or []]})
    return int(made)


def escalation_snapshot(week: str) -> list[dict[str, Any]]:
    """The escalations a final close proposed, as they were proposed (frozen with it)."""
    return [{"kind": e.kind, "county": e.county.code if e.county else "",
             "department": e.department.code if e.department else "", "subject": e.subject,
             "basis": e.basis, "items": e.items}
            for e in Escalation.objects.filter(week=week).select_related("county", "department")
            .order_by("county__code", "kind", "id")]


ESCALATION_MOVES = {
    "approve": ((Escalation.Status.PROPOSED,), Escalation.Status.APPROVED),
    "dismiss": ((Escalation.Status.PROPOSED,), Escalation.Status.DISMISSED),
    "done": ((Escalation.Status.APPROVED,), Escalation.Status.DONE),
}


class EscalationError(Exception):
    pass


@transaction.atomic
def escalation_move(esc: Escalation, move: str, actor: Any, now: datetime, *,
                    outcome: str = "", scheduled_on: date | None = None) -> Escalation:
    """proposed → approved → done (with its outcome), or proposed → dismissed; compare-and-
    set, so two coordinators clicking at once cannot both move it."""
    if move not in ESCALATION_MOVES:
        raise EscalationError(_("Unknown action: %(a)s") % {"a": move})
    sources, target = ESCALATION_MOVES[move]
    if move == "done" and not outcome.strip():
        raise EscalationError(_("Record the outcome of the interview or notice."))
    if move == "dismiss" and not outcome.strip():
        raise EscalationError(_("Give the reason for dismissing it."))
    changes: dict[str, Any] = {"status": target}
    if move in ("approve", "dismiss"):
        changes.update(decided_by=actor, decided_at=now)
    if move == "done":
        changes["done_at"] = now
    if outcome:
        changes["outcome"] = outcome.strip()
    if scheduled_on:
        changes["scheduled_on"] = scheduled_on
    n = Escalation.objects.filter(pk=esc.pk, status__in=sources).update(**changes)
    if n != 1:
        esc.refresh_from_db()
        raise EscalationError(_("This escalation is now %(status)s: reload the page.")
                              % {"status": esc.get_status_display()})
    audit_record(actor=actor, action=f"escalation_{move}", obj=esc, at=now,
                 from_state=esc.status, to_state=target, comment=outcome,
                 case=Case.objects.filter(pk=esc.case_id).first() if esc.case_id else None)
    esc.refresh_from_db()
    return esc


@transaction.atomic
def next_document_number(year: int, prefix: str | None = None) -> str:
    """嘉挖专班〔2026〕3号: the counter is incremented in the database (F expression), so
    two bulletins issued at once never share a number."""
    prefix = prefix or settings.QINGLING_DOC_PREFIX
    seq, _made = DocumentSequence.objects.get_or_create(prefix=prefix, year=year)
    DocumentSequence.objects.filter(pk=seq.pk).update(last=F("last") + 1)
    seq.refresh_from_db()
    return f"{prefix}〔{year}〕{seq.last}号"
