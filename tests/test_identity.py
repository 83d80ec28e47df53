"""One site, one case: every source finds the case another source opened, and every reopen
follows one due-date rule; classification follows the facts as they arrive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qingling.audit.models import AuditEntry
from qingling.cases.identity import SubjectFacts, current_cutoff, key_of, signal_attach
from qingling.cases.models import Behaviour, Case, Grade, State
from qingling.cases.services import WorkflowError, case_correct, case_transition, visit_record
from qingling.common.weeks import IsoWeek
from qingling.intake.services import import_list
from qingling.org.models import Department, SubjectType
from tests.conftest import HEADER, WEEK, Personas, at, csv_bytes, row

SEEN = "2026-11-16 10:00:00"
ADDRESS = "嘉兴市南湖区新兴街道文昌路 18 号 3 幢"


def test_an_electricity_lead_at_the_address_of_a_key_list_case_joins_it(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.1.1.2", "", address=ADDRESS, kind="个人")]),
                file_name="k.csv", list_type="key", week=WEEK)
    listed = Case.objects.get()
    case, change = signal_attach(
        SubjectFacts(meter_id="3304021234", unit_name="王五", residential=True,
                     address="嘉兴市南湖区新兴街道文昌路18号3幢"),
        now=timezone.now(), actor=None, reason="异常用电")
    assert (case.pk, change) == (listed.pk, "updated")
    assert Case.objects.count() == 1
    assert set(case.keys.values_list("key", flat=True)) >= {key_of("meter", "3304021234")}


def test_an_electricity_lead_finds_an_enterprise_case_by_its_address(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.1.1.3", "甲科技有限公司", address=ADDRESS)]),
                file_name="k.csv", list_type="key", week=WEEK)
    listed = Case.objects.get()
    case, _ = signal_attach(SubjectFacts(meter_id="M77", address=ADDRESS, residential=True),
                            now=timezone.now(), actor=None, reason="异常用电")
    assert case.pk == listed.pk


def test_a_second_unit_at_the_same_address_is_not_merged_into_the_first(
        people: Personas) -> None:
    import_list(data=csv_bytes([row("60.1.1.3", "甲科技有限公司", address=ADDRESS),
                                row("60.1.1.4", "乙贸易有限公司", address=ADDRESS)]),
                file_name="k.csv", list_type="key", week=WEEK)
    assert Case.objects.count() == 2


def test_a_list_row_carrying_the_id_number_of_a_monitoring_case_joins_it(
        people: Personas) -> None:
    ident = "330402199001011234"
    monitored, _ = signal_attach(SubjectFacts(account="ACC1", id_number=ident, ip="61.2.2.2",
                                              residential=True),
                                 now=timezone.now(), actor=None, reason="网络监测")
    header = [*HEADER, "身份证号"]
    import_list(data=csv_bytes([[*row("60.9.9.9", "", kind="个人"), ident]], header=header),
                file_name="k.csv", list_type="key", week=WEEK)
    assert Case.objects.count() == 1
    monitored.refresh_from_db()
    assert monitored.on_key_list and monitored.due_at is not None
    assert monitored.ips.filter(value="60.9.9.9").exists()


def test_one_file_naming_a_unit_by_credit_code_and_by_name_gives_one_case(
        people: Personas) -> None:
    import random

    from qingling.ops.demo import make_uscc

    uscc = make_uscc(random.Random(3), "330402")
    import_list(data=csv_bytes([row("60.1.1.5", "丙数据有限公司", uscc=uscc),
                                row("60.1.1.6", "丙数据有限公司")]),
                file_name="k.csv", list_type="key", week=WEEK)
    case = Case.objects.get()
    assert case.subject_key == f"uscc:{uscc}" and case.ips.count() == 2


def _cleared_key_case(people: Personas, cleared_at: object) -> Case:
    import_list(data=csv_bytes([row("60.1.1.7", "丁网络有限公司", when=SEEN)]), file_name="k.csv",
                list_type="key", week=WEEK, now=at("2026-11-17T09:00"))
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(state=State.CLEARED, cleared_at=cleared_at)
    case.refresh_from_db()
    return case


@pytest.mark.parametrize("how", ["city", "monitoring"])
def test_a_reopened_key_list_item_is_due_at_the_current_cut_off_not_at_its_old_one(
        people: Personas, how: str) -> None:
    now = at("2026-12-01T10:00")  # Tuesday of 2026-W49
    case = _cleared_key_case(people, at("2026-11-20T12:00"))
    assert case.due_at == at("2026-11-20T18:00")
    if how == "city":
        case_transition(case_id=case.pk, action="reopen", actor=people.city, comment="现场复查发现",
                        now=now)
    else:
        signal_attach(SubjectFacts(unit_name="丁网络有限公司", county_code="330402",
                                   ip="60.1.1.7"), now=now, actor=None, reason="网络监测")
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.rebound_count == 1
    assert case.due_at == at("2026-12-04T18:00")
    assert not case.is_overdue(now)


def test_a_list_reappearance_is_due_at_the_cut_off_of_the_list_that_names_it(
        people: Personas) -> None:
    case = _cleared_key_case(people, at("2026-11-20T12:00"))
    import_list(data=csv_bytes([row("60.1.1.7", "丁网络有限公司", when=SEEN)]), file_name="k2.csv",
                list_type="key", week=IsoWeek(2026, 49), now=at("2026-12-01T09:00"))
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.due_at == at("2026-12-04T18:00")


def test_a_re_listed_open_item_keeps_its_first_due_date(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.1.1.8", "戊有限公司", when=SEEN)]), file_name="k.csv",
                list_type="key", week=WEEK, now=at("2026-11-17T09:00"))
    import_list(data=csv_bytes([row("60.1.1.8", "戊有限公司", when=SEEN)]), file_name="k2.csv",
                list_type="key", week=IsoWeek(2026, 48), now=at("2026-11-24T09:00"))
    assert Case.objects.get().due_at == at("2026-11-20T18:00")


def test_reopening_after_this_weeks_cut_off_is_due_next_week(db: None) -> None:
    assert current_cutoff(at("2026-12-04T19:00")) == at("2026-12-11T18:00")
    assert current_cutoff(at("2026-12-04T17:59")) == at("2026-12-04T18:00")


def test_a_stock_list_case_that_joins_the_key_list_is_graded_again(people: Personas) -> None:
    import_list(data=csv_bytes([row("60.1.2.1", "", kind="个人")]), file_name="s.csv",
                list_type="stock", week=WEEK)
    case = Case.objects.get()
    assert case.grade == Grade.L3
    import_list(data=csv_bytes([row("60.1.2.1", "", kind="个人")]), file_name="k.csv",
                list_type="key", week=WEEK)
    case.refresh_from_db()
    assert case.grade == Grade.L1 and case.on_key_list
    entry = AuditEntry.objects.get(action="reclassify", case=case)
    assert entry.data["after"]["grade"] == "L1" and "分级：重点名单" in entry.data["rules"]


def _at_visit(people: Personas, name: str, kind: str, ip: str) -> Case:
    import_list(data=csv_bytes([row(ip, name, kind=kind)]), file_name=f"{ip}.csv",
                list_type="stock", week=WEEK)
    case = Case.objects.get(ips__value=ip)
    case_transition(case_id=case.pk, action="sign", actor=people.county_a)
    case_transition(case_id=case.pk, action="start_verification", actor=people.verifier_a)
    return case


def test_a_hijacked_school_host_reaches_public_security(people: Personas) -> None:
    case = _at_visit(people, "南湖区某某小学", "", "60.1.3.1")
    psb = Department.objects.get(code="psb")
    assert case.subject_type == SubjectType.SCHOOL
    assert not case.co_departments.filter(pk=psb.pk).exists()
    visit_record(case_id=case.pk, actor=people.verifier_a, visited_at=timezone.now(),
                 found_mining=True, behaviour=Behaviour.HIJACKED, machine_count=1)
    case.refresh_from_db()
    assert case.behaviour == Behaviour.HIJACKED
    assert case.lead_department is not None and case.lead_department.code == "education"
    assert case.co_departments.filter(pk=psb.pk).exists()
    assert case.grade == Grade.L1  # a public-sector subject


def test_a_visit_finding_ten_machines_raises_the_grade(people: Personas) -> None:
    case = _at_visit(people, "", "个人", "60.1.3.2")
    assert case.grade == Grade.L3
    visit_record(case_id=case.pk, actor=people.verifier_a, visited_at=timezone.now(),
                 found_mining=True, machine_count=12)
    case.refresh_from_db()
    assert case.grade == Grade.L1
    assert AuditEntry.objects.filter(action="reclassify", case=case).count() == 1


def test_the_city_corrects_a_classification_and_the_rules_keep_it(people: Personas) -> None:
    case = _at_visit(people, "", "个人", "60.1.3.3")
    sasac = Department.objects.get(code="sasac")
    with pytest.raises(WorkflowError):
        case_correct(case_id=case.pk, actor=people.city, reason=" ",
                     subject_type=SubjectType.STATE_OWNED)
    with pytest.raises(WorkflowError):
        case_correct(case_id=case.pk, actor=people.county_a, reason="核实为国企",
                     subject_type=SubjectType.STATE_OWNED)
    case_correct(case_id=case.pk, actor=people.city, reason="核实为国有企业职工宿舍",
                 subject_type=SubjectType.STATE_OWNED, lead_department_id=sasac.pk)
    case.refresh_from_db()
    assert case.subject_type == SubjectType.STATE_OWNED and case.lead_department_id == sasac.pk
    assert case.grade == Grade.L1
    assert AuditEntry.objects.get(action="correct", case=case).comment == "核实为国有企业职工宿舍"
    visit_record(case_id=case.pk, actor=people.verifier_a,
                 visited_at=timezone.now() + timedelta(hours=1), found_mining=True,
                 machine_count=1)
    case.refresh_from_db()
    assert case.subject_type == SubjectType.STATE_OWNED and case.lead_department_id == sasac.pk


# --- on the case page ---------------------------------------------------------------------

def test_the_verifier_records_behaviour_on_the_visit_form(people: Personas) -> None:
    from tests.conftest import client_for

    case = _at_visit(people, "南湖区某某中学", "", "60.1.3.4")
    page = client_for(people.verifier_a).get(f"/cases/{case.pk}/").content.decode()
    assert 'name="behaviour"' in page
    resp = client_for(people.verifier_a).post(f"/cases/{case.pk}/visit/", {
        "visited_at": "2026-11-18T10:00", "found_mining": "yes", "behaviour": "hijacked",
        "machine_count": "1", "machines_seized": "0"})
    assert resp.status_code == 302
    case.refresh_from_db()
    assert case.behaviour == Behaviour.HIJACKED
    assert case.co_departments.filter(code="psb").exists()


def test_only_the_city_corrects_on_the_case_page_and_a_reason_is_required(
        people: Personas) -> None:
    from tests.conftest import client_for

    case = _at_visit(people, "", "个人", "60.1.3.5")
    sasac = Department.objects.get(code="sasac")
    assert 'id="correct-form"' not in client_for(people.county_a).get(
        f"/cases/{case.pk}/").content.decode()
    assert 'id="correct-form"' in client_for(people.city).get(f"/cases/{case.pk}/").content.decode()
    form = {"subject_type": "state_owned", "behaviour": "", "grade": "",
            "lead_department": str(sasac.pk)}
    client_for(people.county_a).post(f"/cases/{case.pk}/correct/", {**form, "reason": "国企"})
    client_for(people.city).post(f"/cases/{case.pk}/correct/", {**form, "reason": ""})
    case.refresh_from_db()
    assert case.subject_type == SubjectType.RESIDENTIAL and not AuditEntry.objects.filter(
        action="correct").exists()
    client_for(people.city).post(f"/cases/{case.pk}/correct/", {**form, "reason": "核实为国企宿舍"})
    case.refresh_from_db()
    assert (case.subject_type, case.lead_department_id) == (SubjectType.STATE_OWNED, sasac.pk)
    assert AuditEntry.objects.get(action="correct", case=case).comment == "核实为国企宿舍"
