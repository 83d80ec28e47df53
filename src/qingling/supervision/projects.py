"""The project list (项目清单) of the national notice: one row per confirmed mining site
with its subject, scale (machines), hash rate (from the machine models recorded on site),
energy and status. Its energy is the weekly close's own figure for the site (the same
``site_energy`` result), so the list and the close cannot disagree; it is frozen with
each close in the close's figures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from qingling.cases.models import Case, SiteVisit, State
from qingling.cases.presenters import personal
from qingling.common.weeks import SHANGHAI
from qingling.common.xlsx import build_workbook
from qingling.org.models import Profile
from qingling.supervision.energy import SiteEnergy
from qingling.supervision.models import MachineModel

HEADERS = ["序号", "所属企业", "统一社会信用代码", "县（市、区）", "乡镇（街道）", "规模",
           "矿机型号", "算力", "算力单位", "额定功率（千瓦）", "耗电量", "耗电量依据", "状态",
           "首次发现", "清退日期", "案件"]
NOTES = [["规模", "现场核查发现的矿机台数（台）"],
         ["算力", "台数 × 型号单台算力（矿机型号对照表）；型号未登记或不识别的留空"],
         ["耗电量", "千瓦时，与当周周结能耗数据一致：电网计量优先，否则按功率 × 时长估算"],
         ["状态", "在运：未断电；已断电：现场已断电；已清退：已销号"]]
BASIS = {"metered": "电网计量", "estimated": "功率×时长估算", "none": "无估算"}


def _norm(text: str) -> str:
    return re.sub(r"[\s\-_·]+", "", text).lower()


@dataclass(frozen=True)
class ModelTable:
    """Machine models by every spelling, longest first: "S19 Pro" is not an "S19"."""

    names: list[tuple[str, MachineModel]]

    @classmethod
    def load(cls) -> ModelTable:
        names = []
        for m in MachineModel.objects.all():
            for spelling in [m.name, *m.aliases.split("|")]:
                if spelling.strip():
                    names.append((_norm(spelling), m))
        names.sort(key=lambda t: -len(t[0]))
        return cls(names)

    def find(self, text: str) -> MachineModel | None:
        key = _norm(text)
        if not key:
            return None
        exact = next((m for n, m in self.names if n == key), None)
        return exact or next((m for n, m in self.names if n in key), None)


def status_of(case: Case, power_cut: bool) -> str:
    if case.state == State.CLEARED:
        return "已清退"
    return "已断电" if power_cut else "在运"


def _day(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d") if moment else ""


def project_rows(cases: list[Case], sites: list[SiteEnergy], until: datetime) -> list[dict[str, Any]]:
    """The frozen rows (JSON-ready): no personal data — the subject is shown per reader
    from the case (``shown_rows``)."""
    table = ModelTable.load()
    energy = {s.case_id: s for s in sites}
    visits: dict[int, list[SiteVisit]] = {}
    for v in (SiteVisit.objects.filter(case_id__in=[c.pk for c in cases], visited_at__lte=until)
              .order_by("visited_at", "id")):
        visits.setdefault(v.case_id, []).append(v)
    rows = []
    for c in cases:
        found = [v for v in visits.get(c.pk, []) if v.found_mining]
        machines = max((v.machine_count for v in found), default=0)
        model_text = next((v.machine_model for v in reversed(found) if v.machine_model), "")
        model = table.find(model_text)
        site = energy.get(c.pk)
        first = c.first_evidence_at or (found[0].visited_at if found else None)
        rows.append({
            "case": c.pk, "ref": c.reference, "county": c.county.code if c.county else "",
            "county_name": c.county.name if c.county else "",
            "township": c.township.name if c.township else "", "uscc": c.uscc,
            "machines": machines, "model": model.name if model else model_text,
            "hashrate": str(model.hashrate * machines) if model and machines else "",
            "unit": model.unit if model and machines else "",
            "rated_kw": str(model.kw * machines) if model and machines else "",
            # A site with no estimate is listed without a figure, never as 0 kWh.
            "kwh": str(site.kwh) if site and site.basis != "none" else "",
            "basis": site.basis if site else "none",
            "status": status_of(c, any(v.power_cut for v in visits.get(c.pk, []))),
            "first_found": _day(first), "cleared": _day(c.cleared_at),
        })
    return rows


def shown_rows(rows: list[dict[str, Any]], profile: Profile | None) -> list[list[Any]]:
    """The rows as a reader sees them: the subject masked as that role sees it (a person's
    name always masked; a unit's name in clear), numbers as numbers."""
    cases = {c.pk: c for c in Case.objects.filter(pk__in=[r["case"] for r in rows])}
    out = []
    for n, r in enumerate(rows, 1):
        case = cases.get(r["case"])
        subject = personal(case, profile).name if case else ""
        out.append([n, subject, r["uscc"], r["county_name"], r["township"], r["machines"],
                    r["model"], Decimal(r["hashrate"]) if r["hashrate"] else "", r["unit"],
                    Decimal(r["rated_kw"]) if r["rated_kw"] else "",
                    Decimal(r["kwh"]) if r["kwh"] else "", BASIS.get(r["basis"], r["basis"]),
                    r["status"], r["first_found"], r["cleared"], r["ref"]])
    return out


def projects_xlsx(rows: list[list[Any]], week: str, final: bool | None) -> bytes:
    state = {True: "周结定稿", False: "周结草稿", None: "未周结（即时计算）"}[final]
    return build_workbook([(f"项目清单 {week}", HEADERS, rows),
                           ("说明", ["项目", "说明"], [["周次", f"{week}（{state}）"], *NOTES])])
