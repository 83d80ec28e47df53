"""Every write of the supervision area: the weekly close, escalations, document numbers,
reference data. Each runs in one transaction and leaves an audit entry."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from qingling.audit.services import audit_record
from qingling.cases.models import Case
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.supervision import figures as fig
from qingling.supervision.models import (
    DocumentSequence,
    EnergyFactor,
    Escalation,
    TariffRate,
    WeeklyClose,
)

DATA_DIR = Path(__file__).parent / "data"


class CloseError(Exception):
    pass


def reference_load() -> dict[str, int]:
    """Dated energy coefficients and surcharge rates (idempotent: existing dates are kept,
    so an administrator's corrections survive `qingling init`)."""
    added = {"factors": 0, "rates": 0}
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
    """Freeze the week's figures and propose its escalations. Closing a week again returns
    the close made the first time and creates nothing (the figures are a record)."""
    existing = WeeklyClose.objects.filter(week=str(week)).first()
    if existing:
        return existing, False
    cutoff = fig.cutoff_of(week)
    if now < cutoff and not early:
        raise CloseError(f"{week} closes at its cut-off {cutoff:%Y-%m-%d %H:%M} (Asia/Shanghai); "
                         "it is not yet reached")
    figures = fig.compute(week, now)
    try:
        with transaction.atomic():
            close = WeeklyClose.objects.create(week=str(week), cutoff=cutoff, closed_at=now,
                                               closed_by=actor if _is_user(actor) else None,
                                               figures=figures)
            proposed = propose_escalations(close)
            audit_record(actor=actor, action="weekly_close", obj=close, at=now,
                         data={"week": str(week), "escalations": proposed,
                               "key_on_time_rate": figures["city"]["on_time_rate"],
                               "stock_open": figures["city"]["stock_open"]})
    except IntegrityError:
        # Another close of the same week won the race: that one is the record.
        return WeeklyClose.objects.get(week=str(week)), False
    return close, True


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def propose_escalations(close: WeeklyClose) -> int:
    """约谈 for each overdue key-list item's responsible unit; 全市通报 and informing the
    local government leaders for each county whose stock rose."""
    counties = {d.code: d for d in Division.objects.filter(level="county")}
    made = 0
    for item in close.figures["overdue_items"]:
        county = counties.get(item["county"])
        if county is None:
            continue  # not yet dispatched: the city itself owns it
        unit = item["department"] or county.name
        basis = (f"重点名单事项（案件 {item['case']}，IP {item['ip']}）未在 "
                 f"{item['due'][:16].replace('T', ' ')} 前清零")
        made += _propose(close.week, Escalation.Kind.INTERVIEW, county, item["case"],
                         item["department_id"], f"{unit}主要负责人", basis)
    for row in close.figures["counties"]:
        county = counties.get(row["code"])
        if county is None or not row["stock_rose"]:
            continue
        basis = f"存量名单由 {row['stock_prev']} 条增至 {row['stock_open']} 条（只减不增）"
        made += _propose(close.week, Escalation.Kind.CITY_NOTICE, county, None, None,
                         county.name, basis)
        made += _propose(close.week, Escalation.Kind.INFORM_LEADERS, county, None, None,
                         f"{county.name}人民政府领导", basis)
    return made


def _propose(week: str, kind: str, county: Division, case_id: int | None,
             department_id: int | None, subject: str, basis: str) -> int:
    key = f"{week}:{kind}:{county.code}:{case_id or '-'}"
    _, made = Escalation.objects.get_or_create(
        key=key, defaults={"week": week, "kind": kind, "county": county, "case_id": case_id,
                           "department_id": department_id, "subject": subject, "basis": basis})
    return int(made)


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
        raise EscalationError(f"unknown action {move!r}")
    sources, target = ESCALATION_MOVES[move]
    if move == "done" and not outcome.strip():
        raise EscalationError("record the outcome of the interview or notice")
    if move == "dismiss" and not outcome.strip():
        raise EscalationError("give the reason for dismissing it")
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
        raise EscalationError(f"this escalation is now {esc.get_status_display()}: reload the page")
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
    seq, _ = DocumentSequence.objects.get_or_create(prefix=prefix, year=year)
    DocumentSequence.objects.filter(pk=seq.pk).update(last=F("last") + 1)
    seq.refresh_from_db()
    return f"{prefix}〔{year}〕{seq.last}号"
