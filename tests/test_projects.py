"""项目清单: one row per confirmed site, its hash rate from the machine-model table and its
energy the weekly close's own figure."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook

from qingling.cases.models import Case, State
from qingling.cases.services import case_transition, visit_record
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.org.models import SubjectType
from qingling.supervision.projects import ModelTable
from qingling.supervision.services import reference_load, weekly_close
from tests.conftest import COUNTY_A, Personas, at, client_for


def site(p: Personas, name: str, subject_type: str, model: str, machines: int,
         power_cut: bool) -> Case:
    case = Case.objects.create(subject_key=f"name:{name}", subject_name=name,
                               subject_type=subject_type,
                               county=Division.objects.get(code=COUNTY_A),
                               state=State.DISPATCHED, first_evidence_at=at("2026-11-23T08:00"),
                               created_at=at("2026-11-23T08:00"))
    now = at("2026-11-24T08:00")
    case_transition(case_id=case.pk, action="sign", actor=p.county_a, now=now)
    case_transition(case_id=case.pk, action="start_verification", actor=p.county_a, now=now)
    visit_record(case_id=case.pk, actor=p.county_a, visited_at=now, found_mining=True,
                 machine_count=machines, machine_model=model,
                 power_kw=Decimal("3.25") * machines, power_cut=power_cut)
    case_transition(case_id=case.pk, action="confirm", actor=p.county_a, now=now)
    return case


def test_models_are_found_by_any_spelling_and_the_longest_wins(people: Personas) -> None:
    reference_load()
    table = ModelTable.load()
    assert table.find("蚂蚁 S19 Pro").name == "Antminer S19 Pro"  # type: ignore[union-attr]
    assert table.find("antminer-s19").name == "Antminer S19"  # type: ignore[union-attr]
    assert table.find("自组装显卡机") is None


def test_the_list_of_a_close_has_its_energy_scale_hash_rate_and_status(people: Personas) -> None:
    reference_load()
    firm = site(people, "嘉兴恒达纺织有限公司", SubjectType.ENTERPRISE, "蚂蚁S19 Pro", 4, True)
    home = site(people, "张三丰", SubjectType.RESIDENTIAL, "Whatsminer M30S", 2, False)
    close, _ = weekly_close(IsoWeek(2026, 48), at("2026-11-27T18:00"))
    rows = {r["case"]: r for r in close.figures["projects"]}
    # The firm: 4 × 110 TH/s; 13 kW from 23rd 08:00 to the cut at the visit, 24 h = 312 kWh.
    assert (rows[firm.pk]["machines"], rows[firm.pk]["hashrate"], rows[firm.pk]["unit"],
            rows[firm.pk]["kwh"], rows[firm.pk]["status"]) == (4, "440.000", "TH/s", "312.00",
                                                               "已断电")
    # The home runs on: 6.5 kW from the 23rd 08:00 to the cut-off on the 27th 18:00, 106 h.
    assert (rows[home.pk]["hashrate"], rows[home.pk]["kwh"], rows[home.pk]["status"]) == (
        "176.000", "689.00", "在运")
    assert {s["case"]: s["kwh"] for s in close.figures["sites"]} == {
        firm.pk: "312.00", home.pk: "689.00"}
    book = load_workbook(io.BytesIO(client_for(people.city).get(
        "/supervision/projects.xlsx?week=2026-W48").content))
    table = list(book.worksheets[0].iter_rows(values_only=True))
    subjects = {r[-1]: r[1] for r in table[1:]}
    # A unit's name in clear; a person's masked, even for the city.
    assert subjects == {firm.reference: "嘉兴恒达纺织有限公司", home.reference: "张**"}
    assert firm.reference not in client_for(people.county_b).get(
        "/supervision/projects/?week=2026-W48").content.decode()
