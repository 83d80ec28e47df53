"""The weekly loop's official numbers, worked by hand on realistic weeks: overdue key-list
items carry over until cleared, interviews go to the county work group that failed to
clear (and to the public-sector unit's principal), every time printed is Beijing time,
drafts can be redone while a final close and its bulletin never change, and energy is
counted from the first evidence of mining with the doubling rule in force."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from docx import Document

from qingling.cases.models import Case, State
from qingling.cases.services import case_transition, visit_record
from qingling.common.weeks import IsoWeek
from qingling.geo.models import Division
from qingling.intake.services import import_list
from qingling.supervision.bulletin import issue
from qingling.supervision.figures import compute
from qingling.supervision.models import (
    Bulletin,
    CountyWorkGroup,
    DoublingRule,
    Escalation,
    WeeklyClose,
)
from qingling.supervision.services import escalation_move, reference_load, weekly_close
from tests.conftest import COUNTY_A, COUNTY_B, Personas, at, csv_bytes, row

W48, W49 = IsoWeek(2026, 48), IsoWeek(2026, 49)
# W48: Mon 2026-11-23 .. cut-off Fri 2026-11-27 18:00 (Beijing); W49 cut-off 2026-12-04 18:00.
SEEN_W48 = "2026-11-23 09:30:00"
A_IPS = [f"60.48.1.{i}" for i in range(1, 6)]   # 南湖区: 5 sites
B_IPS = [f"60.48.2.{i}" for i in range(1, 5)]   # 秀洲区: 4 sites


def key_list(rows: list[list[str]], week: IsoWeek, when: str) -> None:
    import_list(data=csv_bytes(rows), file_name=f"key-{week}.csv", list_type="key", week=week,
                now=at(when))


def nine_sites() -> None:
    rows = ([row(ip, f"南湖{i}号公司", when=SEEN_W48) for i, ip in enumerate(A_IPS, 1)]
            + [row(ip, f"秀洲{i}号公司", county="秀洲区", when=SEEN_W48)
               for i, ip in enumerate(B_IPS, 1)])
    key_list(rows, W48, "2026-11-23T10:00")


def docx_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        parts += ["|".join(c.text for c in r.cells) for r in t.rows]
    return "\n".join(parts)


@pytest.fixture
def groups(people: Personas) -> None:
    reference_load()
    CountyWorkGroup.objects.create(county=Division.objects.get(code=COUNTY_A),
                                   name="南湖区整治虚拟货币“挖矿”活动工作专班",
                                   principal="南湖区整治工作专班主要负责人（区政府分管副区长）")


def test_overdue_items_carry_over_and_the_interviews_go_to_each_county_work_group(
        groups: None, tmp_path: Path) -> None:
    nine_sites()
    w48, _ = weekly_close(W48, at("2026-11-28T09:00"))
    assert w48.final and w48.figures["city"]["key_overdue"] == 9
    # W49's key list carries 5 of the 9 again (3 of 南湖, 2 of 秀洲); none is cleared.
    key_list([row(ip, f"南湖{i}号公司", when="2026-11-30 09:00:00")
              for i, ip in enumerate(A_IPS[:3], 1)]
             + [row(ip, f"秀洲{i}号公司", county="秀洲区", when="2026-11-30 09:00:00")
                for i, ip in enumerate(B_IPS[:2], 1)], W49, "2026-11-30T10:00")
    assert Case.objects.count() == 9
    # A re-listed open item keeps its first due date: W48's cut-off.
    assert {c.due_at for c in Case.objects.all()} == {at("2026-11-27T18:00")}
    w49, _ = weekly_close(W49, at("2026-12-05T09:00"))
    city = w49.figures["city"]
    assert city["key_overdue"] == 9
    assert city["key_overdue_by_week"] == {"2026-W48": 9}
    a = next(r for r in w49.figures["counties"] if r["code"] == COUNTY_A)
    b = next(r for r in w49.figures["counties"] if r["code"] == COUNTY_B)
    assert (a["key_overdue"], b["key_overdue"]) == (5, 4)
    # Due in W48, so nothing is "received" in W49: the rate is not diluted by old items.
    assert city["key_received"] == 0
    items = w49.figures["overdue_items"]
    assert len(items) == 9
    assert {(i["due_local"], i["weeks_overdue"]) for i in items} == {("2026-11-27 18:00", 1)}

    # One interview per county work group and week, listing its items, in Beijing time.
    interviews = Escalation.objects.filter(week=str(W49), kind=Escalation.Kind.INTERVIEW)
    assert sorted(e.county.code for e in interviews) == [COUNTY_A, COUNTY_B]
    by = {e.county.code: e for e in interviews}
    assert by[COUNTY_A].subject == "南湖区整治工作专班主要负责人（区政府分管副区长）"
    assert by[COUNTY_B].subject == "秀洲区整治虚拟货币“挖矿”活动工作专班主要负责人"
    assert len(by[COUNTY_A].items) == 5 and len(by[COUNTY_B].items) == 4
    assert "2026-11-27 18:00 前清零" in by[COUNTY_A].basis
    assert "已逾期 1 周" in by[COUNTY_A].basis and "10:00 前" not in by[COUNTY_A].basis
    # Never the city's own departments.
    assert not any(d in e.subject for e in interviews for d in ("市公安局", "市发展改革委"))

    # The W49 bulletin lists the 9 with their weeks overdue, and the decided interviews.
    for e in interviews:
        escalation_move(e, "approve", None, at("2026-12-05T10:00"))
    files = issue(W49, tmp_path, at("2026-12-05T11:00"), pdf=False)
    text = docx_text(files.docx)
    assert "逾期未清零重点名单事项9项（其中往周结转9项）" in text
    overdue_lines = [ln for ln in text.splitlines() if "|2026-11-27 18:00|" in ln]
    assert len(overdue_lines) == 9 and all(ln.split("|")[5] == "1" for ln in overdue_lines)
    assert "约谈2家责任单位主要负责人" in text
    assert "10:00" not in "\n".join(overdue_lines)


def test_a_public_sector_subject_adds_an_interview_of_its_own_principal(groups: None) -> None:
    key_list([row("60.48.3.1", "嘉兴市第一中学", when=SEEN_W48),
              row("60.48.3.2", "南湖某科技有限公司", when=SEEN_W48)], W48, "2026-11-23T10:00")
    assert Case.objects.get(ip_summary="60.48.3.1").subject_type == "school"
    weekly_close(W48, at("2026-11-28T09:00"))
    subjects = sorted(Escalation.objects.filter(kind=Escalation.Kind.INTERVIEW)
                      .values_list("subject", flat=True))
    assert subjects == ["南湖区整治工作专班主要负责人（区政府分管副区长）", "嘉兴市第一中学主要负责人"]
    school = Escalation.objects.get(subject="嘉兴市第一中学主要负责人")
    assert [i["ip"] for i in school.items] == ["60.48.3.1"]


def test_an_early_close_is_a_draft_that_is_recomputed_and_the_final_one_never_moves(
        groups: None, tmp_path: Path) -> None:
    nine_sites()
    draft, made = weekly_close(W48, at("2026-11-26T12:00"), early=True)
    assert made and not draft.final and draft.figures["city"]["key_overdue"] == 0
    assert Escalation.objects.count() == 0  # a drill proposes nothing
    # A bulletin of the draft is marked 草稿, takes no number and is not kept.
    files = issue(W48, tmp_path, at("2026-11-26T13:00"), pdf=False)
    assert files.doc_number == "草稿" and files.docx.name == "bulletin-2026-W48-draft.docx"
    head = Document(str(files.docx)).sections[0].header.paragraphs[0].text
    assert "草稿" in head and Bulletin.objects.count() == 0
    # Redone after a correction: the draft follows.
    key_list([row("60.48.9.9", "新增公司", when="2026-11-26 12:30:00")], W48, "2026-11-26T13:00")
    again, made = weekly_close(W48, at("2026-11-26T14:00"), early=True)
    assert made and again.pk == draft.pk and not again.final
    assert again.figures["city"]["key_received"] == 10
    # The close after the cut-off is final, proposes, and is never recomputed.
    final, made = weekly_close(W48, at("2026-11-28T09:00"))
    assert made and final.final and final.figures["city"]["key_overdue"] == 10
    frozen = final.figures
    key_list([row("60.48.9.8", "迟到公司", when="2026-11-27 12:30:00")], W48, "2026-11-28T10:00")
    later, made = weekly_close(W48, at("2026-11-28T12:00"), early=True)
    assert not made and later.figures == frozen
    assert WeeklyClose.objects.get().figures == frozen


def test_weekly_close_json_says_whether_the_close_is_final(db: None) -> None:
    out = io.StringIO()
    call_command("weekly_close", "--week", "2099-W01", "--early", "--json", stdout=out)
    assert json.loads(out.getvalue())["final"] is False
    out = io.StringIO()
    call_command("weekly_close", "--week", "2020-W10", "--json", stdout=out)
    past = json.loads(out.getvalue())
    assert past["final"] is True and past["city"]["key_overdue"] == 0
    assert past["cutoff_local"] == "2020-03-06 18:00"


def test_a_reissued_bulletin_is_the_same_document_whatever_was_decided_since(
        groups: None, tmp_path: Path) -> None:
    nine_sites()
    weekly_close(W48, at("2026-11-28T09:00"))
    a = Escalation.objects.get(kind=Escalation.Kind.INTERVIEW, county__code=COUNTY_A)
    b = Escalation.objects.get(kind=Escalation.Kind.INTERVIEW, county__code=COUNTY_B)
    escalation_move(a, "approve", None, at("2026-11-28T10:00"), scheduled_on=date(2026, 12, 1))
    first = issue(W48, tmp_path / "one", at("2026-11-28T11:00"), pdf=False)
    text = docx_text(first.docx)
    # Only what was decided is announced: B's interview is still a proposal.
    assert a.subject in text and b.subject not in text
    assert "约谈1家责任单位主要负责人" in text
    escalation_move(b, "dismiss", None, at("2026-11-29T10:00"), outcome="已于周六清零，不再约谈")
    escalation_move(a, "done", None, at("2026-12-01T16:00"), outcome="已约谈")
    second = issue(W48, tmp_path / "two", at("2026-12-02T09:00"), pdf=False)
    assert second.doc_number == first.doc_number
    assert docx_text(second.docx) == text
    assert Bulletin.objects.count() == 1


def test_a_dismissed_notice_is_not_announced(groups: None, tmp_path: Path) -> None:
    weekly_close(W48.shift(-1), at("2026-11-21T09:00"))
    import_list(data=csv_bytes([row("61.48.1.1", "丁公司", when=SEEN_W48),
                                row("61.48.1.2", "戊公司", when=SEEN_W48)]),
                file_name="s.csv", list_type="stock", week=W48, now=at("2026-11-23T10:00"))
    weekly_close(W48, at("2026-11-28T09:00"))
    notice = Escalation.objects.get(kind=Escalation.Kind.CITY_NOTICE)
    escalation_move(notice, "dismiss", None, at("2026-11-28T10:00"), outcome="数据重复，经核实未增加")
    text = docx_text(issue(W48, tmp_path, at("2026-11-28T11:00"), pdf=False).docx)
    assert "南湖区存量名单不降反升" in text  # the fact stands ...
    assert "予以全市通报" not in text  # ... the dismissed decision is not announced


def test_stock_that_does_not_fall_for_n_closes_or_exceeds_the_threshold_is_high(
        groups: None, settings: object) -> None:
    settings.QINGLING_STOCK_HIGH_CLOSES = 2  # type: ignore[attr-defined]
    import_list(data=csv_bytes([row("61.46.1.1", "丁公司", when="2026-11-09 09:00:00")]),
                file_name="s.csv", list_type="stock", week=IsoWeek(2026, 46),
                now=at("2026-11-09T10:00"))
    w46, _ = weekly_close(IsoWeek(2026, 46), at("2026-11-14T09:00"))
    w47, _ = weekly_close(IsoWeek(2026, 47), at("2026-11-21T09:00"))
    a47 = next(r for r in w47.figures["counties"] if r["code"] == COUNTY_A)
    assert (a47["stock_open"], a47["stock_rose"], a47["stock_high"]) == (1, False, False)
    w48, _ = weekly_close(W48, at("2026-11-28T09:00"))
    a48 = next(r for r in w48.figures["counties"] if r["code"] == COUNTY_A)
    # 1, 1, 1 over three closes: no fall in the last 2 → 居高不下.
    assert (a48["stock_rose"], a48["stock_high"]) == (False, True)
    notice = Escalation.objects.get(week=str(W48), kind=Escalation.Kind.CITY_NOTICE)
    assert notice.county.code == COUNTY_A and "居高不下" in notice.basis
    assert not Escalation.objects.filter(week=str(IsoWeek(2026, 47))).exists()
    # A threshold makes a county high at once, whatever its trend.
    CountyWorkGroup.objects.create(county=Division.objects.get(code=COUNTY_B), name="秀洲专班",
                                   stock_threshold=0)
    import_list(data=csv_bytes([row("61.49.2.1", "己公司", county="秀洲区",
                                    when="2026-11-30 09:00:00")]),
                file_name="s2.csv", list_type="stock", week=W49, now=at("2026-11-30T10:00"))
    figures = compute(W49, at("2026-12-05T09:00"))
    b = next(r for r in figures["counties"] if r["code"] == COUNTY_B)
    assert b["stock_high"] and b["stock_rose"]
    assert w46.final


def confirm(case: Case, p: Personas, visited: str, kw: Decimal | None, cut: bool) -> None:
    case_transition(case_id=case.pk, action="sign", actor=p.county_a, now=at(visited))
    case_transition(case_id=case.pk, action="start_verification", actor=p.verifier_a,
                    now=at(visited))
    visit_record(case_id=case.pk, actor=p.verifier_a, visited_at=at(visited), found_mining=True,
                 machine_count=2, machines_seized=2 if cut else 0, power_cut=cut, power_kw=kw)
    case_transition(case_id=case.pk, action="confirm", actor=p.verifier_a, now=at(visited))


def test_energy_runs_from_the_first_evidence_and_a_site_without_power_is_listed(
        people: Personas) -> None:
    reference_load()
    key_list([row("60.48.5.1", "甲矿场", when="2026-11-20 10:00:00"),
              row("60.48.5.2", "乙矿场", when="2026-11-23 10:00:00")], W48, "2026-11-23T10:00")
    one = Case.objects.get(ip_summary="60.48.5.1")
    two = Case.objects.get(ip_summary="60.48.5.2")
    # Found by the province on Fri 20th 10:00 (listed on Monday), cut on Tue 24th 10:00:
    # 96 h × 6.5 kW = 624 kWh. The import time (Mon 23rd) is not the start.
    confirm(one, people, "2026-11-24T10:00", Decimal("6.5"), cut=True)
    confirm(two, people, "2026-11-24T11:00", None, cut=False)
    figures = compute(W48, at("2026-11-28T09:00"))
    sites = {s["case"]: s for s in figures["sites"]}
    assert (sites[one.pk]["basis"], sites[one.pk]["kwh"]) == ("estimated", "624.00")
    assert sites[one.pk]["since"] == "2026-11-20 10:00"
    assert sites[one.pk]["until"] == "2026-11-24 10:00"
    assert (sites[two.pk]["basis"], sites[two.pk]["kwh"]) == ("none", "0.00")
    a = next(r for r in figures["counties"] if r["code"] == COUNTY_A)
    assert (a["energy_sites"], a["no_estimate"], a["kwh"]) == (2, 1, "624.00")
    # Default rule (the plan's reading): 南湖's stock did not rise, so nothing doubles.
    assert figures["doubling"]["rule"] == "high_stock" and a["counted_kwh"] == "624.00"
    # 1283号's reading from 2026-11-01: new projects (not on the stock list) count double.
    DoublingRule.objects.create(valid_from=date(2026, 11, 1), rule="new_projects",
                                source="发改运行〔2021〕1283号")
    doubled = compute(W48, at("2026-11-28T09:00"))
    a = next(r for r in doubled["counties"] if r["code"] == COUNTY_A)
    assert (a["doubled_sites"], a["counted_kwh"]) == (2, "1248.00")


def test_energy_of_a_county_named_for_rising_stock_counts_double(people: Personas,
                                                                   tmp_path: Path) -> None:
    reference_load()
    weekly_close(W48.shift(-1), at("2026-11-21T09:00"))
    import_list(data=csv_bytes([row("61.48.6.1", "丙矿场", when="2026-11-20 10:00:00")]),
                file_name="s.csv", list_type="stock", week=W48, now=at("2026-11-23T10:00"))
    case = Case.objects.get()
    confirm(case, people, "2026-11-21T10:00", Decimal("3.25"), cut=True)
    assert Case.objects.get().state == State.CONFIRMED
    close, _ = weekly_close(W48, at("2026-11-28T09:00"))
    a = next(r for r in close.figures["counties"] if r["code"] == COUNTY_A)
    # 24 h × 3.25 kW = 78 kWh, doubled for 南湖 (stock 0 → 1): 156 kWh counted.
    assert a["stock_rose"] and (a["kwh"], a["counted_kwh"], a["doubled_sites"]) == (
        "78.00", "156.00", 1)
    text = docx_text(issue(W48, tmp_path, at("2026-11-28T10:00"), pdf=False).docx)
    assert "加倍计算规则：存量项目居高不下、不降反升地区的挖矿能耗量加倍计算" in text


def test_the_city_drafts_a_close_on_the_page_and_the_page_says_draft(
        groups: None, people: Personas) -> None:
    from qingling.supervision.views import closable_week, draftable_week
    from tests.conftest import client_for

    # Offered on the page: a draft of the current week before its cut-off; after the
    # cut-off, the final close (even of a week already drafted).
    assert draftable_week(at("2026-11-27T17:00")) == W48
    assert draftable_week(at("2026-11-27T18:00")) is None
    weekly_close(W48, at("2026-11-26T12:00"), early=True)
    assert closable_week(at("2026-11-28T09:00")) == W48
    city = client_for(people.city)
    future = "2099-W01"
    city.post("/supervision/close/", {"week": future, "early": "1"})
    close = WeeklyClose.objects.get(week=future)
    assert not close.final
    page = city.get(f"/supervision/?week={future}").content.decode()
    assert "data-draft" in page and "草稿" in page
    # The county cannot close anything.
    client_for(people.county_a).post("/supervision/close/", {"week": "2099-W02", "early": "1"})
    assert not WeeklyClose.objects.filter(week="2099-W02").exists()
